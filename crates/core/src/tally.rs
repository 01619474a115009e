//! The tally: quorum, threshold, veto, weights and early decision, per the governing
//! domain's policy (overridable per clause). Pure arithmetic over counted votes.
