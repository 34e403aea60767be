"""Customer value: RFM tiers (``value``), the BG/NBD and Gamma-Gamma fit (``value_model``), expected
value per customer (``customer_value``) and churn risk (``churn``).

Imports no other ``pipelines`` sub-package.
"""
