"""The LightGCN peer's training is the paper's: its sampler, its loss terms, resumable state."""

from __future__ import annotations

import numpy as np
import torch

from interest_workers.pipelines.evaluation.lightgcn import LightGCN, PairSampler

from .conftest import ITEM_TEXTS, PAIRS, make_graph


def test_sampler_draws_users_uniformly_and_never_a_positive_as_negative(tiny_graph) -> None:
    sampler = PairSampler(tiny_graph, np.random.default_rng(0))
    users, pos, neg = sampler.sample(20_000)
    x = tiny_graph.to_csr(binary=True).toarray() > 0
    assert x[users, pos].all(), "every positive is one of the user's items"
    assert not x[users, neg].any(), "no negative is one of the user's items"
    counts = np.bincount(users, minlength=tiny_graph.num_users)[sampler.users]
    # Uniform over users (not over pairs): each of the U users about 20000 / U times.
    expected = 20_000 / len(sampler.users)
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)


def test_training_resumes_from_its_state_exactly(tiny_graph) -> None:
    straight = LightGCN(epochs=3, batch_size=8, seed=2).setup(tiny_graph)
    for _ in range(3):
        straight.train_epoch()
    first = LightGCN(epochs=3, batch_size=8, seed=2).setup(tiny_graph)
    first.train_epoch()
    state = first.state()
    resumed = LightGCN(epochs=3, batch_size=8, seed=2).setup(tiny_graph).load_state(state)
    resumed.train_epoch()
    resumed.train_epoch()
    assert resumed.epochs_done == 3
    assert torch.equal(resumed.module.embedding.weight, straight.module.embedding.weight)


def test_initial_embeddings_and_batches_follow_the_paper() -> None:
    g = make_graph(PAIRS * 40, list(ITEM_TEXTS))  # duplicates collapse: the pairs are binary
    model = LightGCN(seed=0).setup(g)
    w = model.module.embedding.weight.detach()
    assert abs(float(w.std()) - 0.1) < 0.02
    assert model.step_size == 2048 and model.samples_per_epoch == len(set(PAIRS))
    routine = LightGCN(batch_size=None, steps_per_epoch=3, min_batch_size=2).setup(g)
    assert routine.step_size == -(-len(set(PAIRS)) // 3)
