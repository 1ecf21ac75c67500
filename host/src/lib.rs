//! Host harness (see ARCHITECTURE.md).
