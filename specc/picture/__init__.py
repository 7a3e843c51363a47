"""The scope picture: a plan drawn as Graphviz dot, SVG, or one offline HTML page."""
