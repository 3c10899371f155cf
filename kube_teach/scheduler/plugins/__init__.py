"""The in-tree scheduler plugins, one module per upstream plugin, named in snake_case."""
