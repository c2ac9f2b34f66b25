"""wod: hands-on Jupyter-notebook workshops on demand."""

__version__ = "0.1.0"
