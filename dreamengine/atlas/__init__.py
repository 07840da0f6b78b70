"""An atlas of every unit of a model: dreams, dataset examples, classes, a static site."""
