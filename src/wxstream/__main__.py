"""Allow ``python -m wxstream``."""

from wxstream.cli import main

if __name__ == "__main__":
    main()
