"""Interest segments: the category-interest space (``segment_space``), clustering and stable
labels (``segmentation``), their quality measures (``segment_quality``) and plain-language briefs
(``segment_briefs``).

Imports no other ``pipelines`` sub-package.
"""
