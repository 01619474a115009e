//! Applying a proposal's rule changes (the seed's `diff` list: JSON Pointer path,
//! add/remove/replace) to a clause's rules, and converting RFC 6902 JSON Patch to it.
