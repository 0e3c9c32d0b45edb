"""Pure domain: value types, geometry and the rules that decide labels.

No I/O, and no imports from the rest of the project."""
