"""One module per protocol family; each defines exactly one Driver subclass."""
