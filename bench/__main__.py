"""`python -m bench`: every benchmark this project has, printed as tables."""

from bench import export_path, import_time

if __name__ == "__main__":
    print("## Cold start\n")
    import_time.main()
    print("\n## Export path\n")
    export_path.main([])
