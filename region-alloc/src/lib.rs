//! A thread-safe bump-pointer region allocator on mmap'd blocks, freed all at once.
