"""submissions: see docs/ and ../shared/DESIGN.md for its job."""
