"""The words every service uses for the same things, defined once.

``copies`` — a cached copy's states and a fill's progress; ``eviction`` — the eviction
policy's defaults and limits; ``names`` — what a project, dataset, site or volume name may be;
``clock`` — the time services record and show; ``sizes`` — byte counts as people read them.
"""
