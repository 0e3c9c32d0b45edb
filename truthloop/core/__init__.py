"""Pure domain: value types, geometry and the rules that decide labels. No I/O, no project imports."""
