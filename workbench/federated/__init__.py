"""Analysis across communities whose records stay on their own servers (issue 18)."""
