"""LakeCache: datasets cached at each compute site, and the runs that read them.

``lakecache`` is shared by several distributions (``lakecache.core``, ``lakecache.catalog``,
``lakecache.tracker``…, each its own part), so this file only extends the package's path to
every part installed and adds what a training job calls first:

    import lakecache

    with lakecache.start_run(project="team", experiment="resnet") as run:
        with lakecache.use("team/images@v3", site="dgx", run=run) as root:
            run.log_metric("loss", 0.25, step=1)

``start_run`` (``lakecache.sdk.tracking``), ``use``/``use_async`` (``lakecache.sdk.use``) and
``files`` (``lakecache.sdk.listing``: the sorted regular files of a view, by glob) are imported on
first use: importing ``lakecache.core`` in a service loads nothing of the SDK.
"""

__path__ = __import__("pkgutil").extend_path(__path__, __name__)

__all__ = ["Run", "files", "start_run", "use", "use_async"]


def __getattr__(name: str) -> object:
    if name == "files":
        from lakecache.sdk.listing import files

        return files
    if name in ("use", "use_async"):
        from lakecache.sdk import use

        return getattr(use, name)
    if name in __all__:
        from lakecache.sdk import tracking

        return getattr(tracking, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
