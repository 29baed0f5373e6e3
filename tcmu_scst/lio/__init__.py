"""LIO configfs operations (target core backstores and fabrics), rooted at a parameter."""
