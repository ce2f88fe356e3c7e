"""Community maps: where need is high and services are far (issue 18)."""
