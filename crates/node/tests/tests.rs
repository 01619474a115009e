//! Integration tests of the node (one binary; modules below).
