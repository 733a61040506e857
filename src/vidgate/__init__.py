"""vidgate: a self-hosted video generation API server speaking the Sora 2 video API."""

__version__ = "0.1.0"
