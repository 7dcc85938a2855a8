from importlib.metadata import version

# The installed distribution's version: pyproject.toml is its one home (tests/unit/test_release.py
# keeps every package, the chart and the changelog on the same number).
__version__ = version("tollway-edge")
