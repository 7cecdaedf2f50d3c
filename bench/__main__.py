"""`python -m bench`: every benchmark this project has, printed as tables."""

from bench import import_time

if __name__ == "__main__":
    import_time.main()
