"""Training: fine-tuning a timm model on a folder of class folders, and the small offline demo dataset."""

from dreamengine._moved import package_getattr

__all__: list[str] = []

__getattr__ = package_getattr(__name__)  # the names the flat module of the first release had, with a DeprecationWarning
