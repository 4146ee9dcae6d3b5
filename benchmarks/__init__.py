"""The benchmark suite (`make bench`); not part of the installed package."""
