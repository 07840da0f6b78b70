"""Training: fine-tuning a timm model on a folder of class folders, and the small offline demo dataset."""
