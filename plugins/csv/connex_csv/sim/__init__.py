"""The CSV connector's simulator: a real folder, with the file system's faults injected on demand."""

from .folder import FolderService, SeededOrder, SimFiles

__all__ = ["FolderService", "SeededOrder", "SimFiles"]
