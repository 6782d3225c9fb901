"""stackyard: the Python services deployed by the stackyard.platform collection."""

__version__ = "0.1.0"
