from lakecache.core.runtime.standalone import run_standalone
from lakecache.tracker.bootstrap import SERVICE


def main() -> None:
    run_standalone(SERVICE)


if __name__ == "__main__":
    main()
