//! Offline planner (see ARCHITECTURE.md).
