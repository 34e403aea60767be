# One image definition, two flavours: the API (no torch) and the workers (torch + PyG + model).
#   docker build --build-arg EXTRAS=api -t interest-graph-api .
#   docker build --build-arg EXTRAS=workers -t interest-graph-worker .
FROM python:3.11-slim
ARG EXTRAS=api
ARG TORCH_SPEC="torch==2.13.0"
ENV PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    INTERESTGRAPH_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY platform platform
COPY workers workers
COPY cypher cypher
RUN if [ "$EXTRAS" = "workers" ]; then \
      pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "$TORCH_SPEC"; \
    fi \
 && pip install --no-cache-dir -e ".[$EXTRAS]"
RUN useradd --create-home --uid 10001 interest && mkdir -p /data && chown interest /data
USER interest
EXPOSE 8000
CMD ["interestgraph", "--help"]
