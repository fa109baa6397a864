"""``python -m helpers.publishing``: the monthly publishing run (see helpers.publishing.run)."""
from helpers.publishing.run import main

if __name__ == "__main__":
    raise SystemExit(main())
