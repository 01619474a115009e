//! Shared fixtures and checks of the govmesh fuzz targets.
//!
//! Every target in `fuzz/fuzz_targets/` is one line calling a `check_*` function here, so
//! the same checks run under cargo-fuzz (libFuzzer) and in the plain unit tests that
//! replay the committed seed corpus. The fixture is a real mesh: Ed25519 keys from
//! fixed seeds, the Codex genesis signed by a founding hub, and two open proposals,
//! built once per process.

use govmesh_core::Timestamp;
use govmesh_core::canonical::{canonical_bytes, parse_strict};
use govmesh_core::checkpoint::{Checkpoint, SignedNote};
use govmesh_core::codex::codex_genesis;
use govmesh_core::dsse::{ENTRY_PAYLOAD_TYPE, Envelope};
use govmesh_core::entry::{
    LogRecord, NodeSpec, Operation, ProposeOp, VoteOp, sign_entry, sign_entry_at,
};
use govmesh_core::keys::KeyPair;
use govmesh_core::model::{Changes, DiffOp, NodeType, PatchOperation, VoteChoice};
use govmesh_core::patch::{apply_diff, from_json_patch, parse_pointer, to_json_patch};
use govmesh_core::state::State;
use serde_json::{Value, json};
use std::sync::OnceLock;

/// Council time of the genesis entry (2025-11-26T11:00:00Z).
pub const T0: i64 = 1_764_154_800_000;

/// Id of the open proposal on clause 11.0 (text only), no votes yet.
pub const TEXT_PROPOSAL: &str = "22222222-2222-4222-8222-222222222222";
/// Id of the open proposal on clause 5.5 with a rules diff; hubs 0 and 1 approved it,
/// so hub 2's approval adopts it (clause 5.5 needs more than two thirds).
pub const RULES_PROPOSAL: &str = "33333333-3333-4333-8333-333333333333";

/// The mesh every state-machine target starts from.
pub struct Fixture {
    /// Founding governance hubs (seeds 1, 2, 3).
    pub hubs: Vec<KeyPair>,
    /// Founding compliance witness (seed 9).
    pub witness: KeyPair,
    /// A key no node holds (seed 42).
    pub stranger: KeyPair,
    /// Only the genesis entry applied.
    pub genesis_state: State,
    /// Genesis, two proposals and two votes applied (5 entries).
    pub voting_state: State,
    /// The records of `voting_state`, in log order.
    pub log: Vec<LogRecord>,
}

impl Fixture {
    /// The key whose node id is `author`, if it is one of the fixture's keys.
    pub fn key_of(&self, author: &str) -> Option<&KeyPair> {
        self.hubs
            .iter()
            .chain([&self.witness, &self.stranger])
            .find(|k| k.node_id() == author)
    }
}

fn spec(k: &KeyPair, node_type: NodeType) -> NodeSpec {
    NodeSpec {
        node_id: k.node_id().to_owned(),
        node_type,
        public_key: k.public(),
        network_address: None,
        display_name: None,
        node_policy_capabilities: Vec::new(),
    }
}

fn propose_op(state: &State, id: &str, clause: &str, diff: Vec<DiffOp>) -> ProposeOp {
    let c = state
        .contract("codex")
        .and_then(|c| c.clause(clause))
        .expect("the Codex has the clause")
        .clone();
    ProposeOp::amend(
        id,
        "codex",
        clause,
        c.hash().expect("clause hashes"),
        format!("fuzz fixture change of {clause}"),
        Changes {
            current_text: c.text.clone(),
            proposed_text: format!("{} (amended)", c.text),
            diff,
        },
    )
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let hubs: Vec<KeyPair> = (1..=3).map(|s| KeyPair::from_seed([s; 32])).collect();
        let witness = KeyPair::from_seed([9; 32]);
        let stranger = KeyPair::from_seed([42; 32]);
        let mut founders: Vec<NodeSpec> = hubs
            .iter()
            .map(|k| spec(k, NodeType::GovernanceHub))
            .collect();
        founders.push(spec(&witness, NodeType::ComplianceWitness));
        let genesis = sign_entry(
            &hubs[0],
            Operation::Genesis(codex_genesis("fuzz-mesh", founders)),
        );
        let mut state = State::new();
        let mut log = Vec::new();
        let mut push = |state: &mut State, env: Envelope, secs: u64| {
            let rec = LogRecord {
                index: state.size(),
                timestamp: Timestamp(T0).plus_secs(secs),
                envelope: env,
            };
            state.apply_record(&rec).expect("fixture entry applies");
            log.push(rec);
        };
        push(&mut state, genesis, 0);
        let genesis_state = state.clone();
        let text = propose_op(&state, TEXT_PROPOSAL, "11.0", Vec::new());
        push(
            &mut state,
            sign_entry_at(
                &hubs[0],
                Operation::Propose(text),
                Timestamp(T0).plus_secs(1),
            ),
            1,
        );
        let diff = vec![DiffOp {
            path: "/default_voting_policy/voting_period_secs".into(),
            operation: PatchOperation::Replace,
            value: json!(86400),
        }];
        let rules = propose_op(&state, RULES_PROPOSAL, "5.5", diff);
        push(
            &mut state,
            sign_entry_at(
                &hubs[1],
                Operation::Propose(rules),
                Timestamp(T0).plus_secs(2),
            ),
            2,
        );
        let vote = VoteOp {
            proposal_id: RULES_PROPOSAL.into(),
            choice: VoteChoice::Approve,
            reason: None,
            sequence: 0,
        };
        push(
            &mut state,
            sign_entry_at(
                &hubs[0],
                Operation::Vote(vote.clone()),
                Timestamp(T0).plus_secs(3),
            ),
            3,
        );
        push(
            &mut state,
            sign_entry_at(&hubs[1], Operation::Vote(vote), Timestamp(T0).plus_secs(4)),
            4,
        );
        Fixture {
            hubs,
            witness,
            stranger,
            genesis_state,
            voting_state: state,
            log,
        }
    })
}

/// Council times every state-machine target tries: during voting, and a year later
/// when every voting period has ended.
pub fn times() -> [Timestamp; 2] {
    [
        Timestamp(T0).plus_secs(60),
        Timestamp(T0).plus_secs(365 * 86400),
    ]
}

/// Applies `env` at `at` to a copy of `state`; a refusal must leave it unchanged.
fn apply_and_check(state: &State, env: &Envelope, at: Timestamp) {
    let mut s = state.clone();
    match s.apply(env, at) {
        Ok(a) => {
            assert_eq!(a.index, state.size());
            assert_eq!(s.size(), state.size() + 1);
            // The state survives serialization (nodes persist and serve it as JSON).
            let text = serde_json::to_string(&s).expect("state serializes");
            let back: State = serde_json::from_str(&text).expect("state deserializes");
            assert!(back == s, "state changed by a JSON round trip");
            // An accepted entry can never be accepted twice.
            let again = s.clone();
            assert!(s.apply(env, at).is_err(), "an entry applied twice");
            assert!(s == again, "a refused replay changed the state");
        }
        Err(e) => {
            assert!(&s == state, "state changed by a refused entry: {e}");
        }
    }
}

/// Equality of JSON values as JCS sees them: numbers by their IEEE 754 double value
/// (JCS writes `1.0` as `1` and `-0` as `0`, which parse back as integers).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, xv)| y.get(k).is_some_and(|yv| same_json(xv, yv)))
        }
        _ => a == b,
    }
}

/// Target `canonical`: strict parsing of arbitrary bytes; what parses canonicalizes,
/// and the canonical bytes parse back to the same value and are a fixed point.
pub fn check_canonical(data: &[u8]) {
    let Ok(v) = parse_strict(data) else { return };
    let c = canonical_bytes(&v).expect("a strictly parsed value canonicalizes");
    let back = parse_strict(&c).expect("canonical bytes re-parse");
    assert!(
        same_json(&back, &v),
        "canonical bytes {:?} re-parse to {back:?}, not {v:?}",
        String::from_utf8_lossy(&c)
    );
    let c2 = canonical_bytes(&back).expect("re-parsed value canonicalizes");
    assert_eq!(c, c2, "canonical form is not a fixed point");
}

/// Target `envelope_apply`: arbitrary bytes as the JSON body of a DSSE envelope,
/// applied to the genesis state and to the voting state at both fixture times.
pub fn check_envelope_apply(data: &[u8]) {
    let Ok(env) = serde_json::from_slice::<Envelope>(data) else {
        return;
    };
    let f = fixture();
    for at in times() {
        apply_and_check(&f.genesis_state, &env, at);
        apply_and_check(&f.voting_state, &env, at);
    }
}

/// Target `payload_apply`: arbitrary bytes as the *payload* of an entry, signed with
/// the key of the node its `author` names (a founding hub's if none), so every input
/// gets past the signature check to the operation rules.
pub fn check_payload_apply(data: &[u8]) {
    let f = fixture();
    let author = serde_json::from_slice::<Value>(data)
        .ok()
        .and_then(|v| v.get("author").and_then(Value::as_str).map(str::to_owned));
    let key = author
        .as_deref()
        .and_then(|a| f.key_of(a))
        .unwrap_or(&f.hubs[1]);
    let env = Envelope::sign(ENTRY_PAYLOAD_TYPE, data, key);
    for at in times() {
        apply_and_check(&f.genesis_state, &env, at);
        apply_and_check(&f.voting_state, &env, at);
    }
}

/// Target `checkpoint`: arbitrary text as a signed note and as a checkpoint body;
/// whatever parses writes back to text that parses to the same thing.
pub fn check_checkpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(note) = SignedNote::parse(text) {
        let again = SignedNote::parse(&note.to_text()).expect("a parsed note's text parses");
        assert_eq!(again, note);
        let _ = note.checkpoint();
        let _ = note.verify("fuzz", &fixture().hubs[0].public());
    }
    if let Ok(cp) = Checkpoint::parse_body(text) {
        let again = Checkpoint::parse_body(&cp.body()).expect("a parsed checkpoint's body parses");
        assert_eq!(again, cp);
    }
}

/// Target `key_file`: arbitrary text as a key file; a key that loads writes back to a
/// file that loads as the same key.
pub fn check_key_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(k) = KeyPair::from_file_json(text) {
        let again = KeyPair::from_file_json(&k.to_file_json()).expect("written key file loads");
        assert_eq!(again.public(), k.public());
        assert_eq!(again.node_id(), k.node_id());
    }
}

/// Target `log_record`: arbitrary bytes as a JSON log record, replayed onto the
/// genesis state and the voting state.
pub fn check_log_record(data: &[u8]) {
    let Ok(rec) = serde_json::from_slice::<LogRecord>(data) else {
        return;
    };
    let f = fixture();
    for state in [&f.genesis_state, &f.voting_state] {
        let mut s = state.clone();
        match s.apply_record(&rec) {
            Ok(_) => assert_eq!(s.size(), state.size() + 1),
            Err(e) => assert!(&s == state, "state changed by a refused record: {e}"),
        }
    }
}

/// Reads a reference token: either one of the document's own keys or indices (so the
/// fuzzer reaches deep paths), or a tricky token.
fn token(u: &mut arbitrary::Unstructured, at: &Value) -> arbitrary::Result<String> {
    const TRICKY: [&str; 10] = [
        "-",
        "0",
        "00",
        "01",
        "",
        "~",
        "~0",
        "~1",
        "~2",
        "99999999999999999999",
    ];
    let own: Vec<String> = match at {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(a) => (0..=a.len()).map(|i| i.to_string()).collect(),
        _ => Vec::new(),
    };
    Ok(match u.int_in_range(0..=3u8)? {
        0 | 1 if !own.is_empty() => u.choose(&own)?.replace('~', "~0").replace('/', "~1"),
        2 => (*u.choose(&TRICKY)?).to_owned(),
        _ => u.arbitrary::<String>()?,
    })
}

fn small_value(u: &mut arbitrary::Unstructured, depth: u8) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0..=6u8)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.int_in_range(-1000..=1_000_000i64)?),
        3 => Value::String(u.arbitrary()?),
        4 if depth < 3 => {
            let n = u.int_in_range(0..=3usize)?;
            Value::Array(
                (0..n)
                    .map(|_| small_value(u, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        5 if depth < 3 => {
            let n = u.int_in_range(0..=3usize)?;
            let mut m = serde_json::Map::new();
            for _ in 0..n {
                m.insert(u.arbitrary()?, small_value(u, depth + 1)?);
            }
            Value::Object(m)
        }
        _ => json!(u.arbitrary::<f64>()?.clamp(-1e9, 1e9)),
    })
}

/// Target `patch`: diff ops built from the bytes, with paths that walk the real rules
/// of a Codex clause, applied in sequence. A failing op changes nothing; a diff that
/// applies survives the JSON Patch round trip with the same result.
pub fn check_patch(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let _ = check_patch_inner(&mut u);
}

fn check_patch_inner(u: &mut arbitrary::Unstructured) -> arbitrary::Result<()> {
    let f = fixture();
    let contract = f.genesis_state.contract("codex").expect("the Codex");
    let clause = u.choose(&contract.clauses)?;
    let mut rules = clause.rules.clone();
    let mut ops = Vec::new();
    for _ in 0..u.int_in_range(1..=6u8)? {
        let mut path = String::new();
        let mut at = Some(&rules);
        for _ in 0..u.int_in_range(0..=5u8)? {
            let tok = token(u, at.unwrap_or(&Value::Null))?;
            let unescaped = parse_pointer(&format!("/{tok}"))
                .ok()
                .and_then(|t| t.into_iter().next());
            at = match (at, unescaped) {
                (Some(Value::Object(m)), Some(k)) => m.get(&k),
                (Some(Value::Array(a)), Some(k)) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            path.push('/');
            path.push_str(&tok);
        }
        let operation = *u.choose(&[
            PatchOperation::Add,
            PatchOperation::Remove,
            PatchOperation::Replace,
        ])?;
        let value = if operation == PatchOperation::Remove {
            Value::Null
        } else {
            small_value(u, 0)?
        };
        let op = DiffOp {
            path,
            operation,
            value,
        };
        let before = rules.clone();
        match apply_diff(&rules, std::slice::from_ref(&op)) {
            Ok(next) => {
                // Whatever a diff makes still canonicalizes (it is hashed into the clause).
                canonical_bytes(&next).expect("patched rules canonicalize");
                rules = next;
            }
            Err(_) => assert_eq!(rules, before),
        }
        ops.push(op);
    }
    let direct = apply_diff(&clause.rules, &ops);
    let via_patch = from_json_patch(&to_json_patch(&ops)).map(|o| apply_diff(&clause.rules, &o));
    if let (Ok(d), Ok(Ok(p))) = (&direct, &via_patch) {
        assert_eq!(d, p, "JSON Patch round trip changed the result");
    }
    // The ops also go through the state machine as a proposal's diff.
    if u.arbitrary::<bool>()? {
        let mut p = propose_op(
            &f.genesis_state,
            "44444444-4444-4444-8444-444444444444",
            &clause.clause_id,
            ops,
        );
        p.rationale = "fuzzed diff".into();
        let env = sign_entry_at(&f.hubs[2], Operation::Propose(p), times()[0]);
        apply_and_check(&f.genesis_state, &env, times()[0]);
    }
    Ok(())
}

/// A seal of the fixture's voting log: the checkpoint of its 5 entries signed by hub 0
/// under the mesh's origin, cosigned by the witness (C2SP cosignature/v1).
pub fn fixture_seal() -> String {
    use govmesh_core::cosign::{Cosignature, witness_key_name};
    let f = fixture();
    let (note, body) = fixture_checkpoint(f.log.len() as u64);
    let w = Cosignature::sign(
        &body,
        &witness_key_name(f.witness.node_id()),
        &f.witness,
        1_800_000_000,
    )
    .expect("the fixture cosigns");
    format!("{}{}\n", note.to_text(), w.line())
}

/// The checkpoint of the fixture log's first `size` entries, signed by hub 0 under
/// the mesh's origin, and its body.
fn fixture_checkpoint(size: u64) -> (SignedNote, String) {
    let f = fixture();
    let tree = govmesh_core::merkle::MerkleTree::from_leaf_hashes(
        f.log.iter().take(size as usize).map(LogRecord::leaf_hash),
    );
    let origin = govmesh_core::seal::checkpoint_origin(&f.voting_state.mesh_id().expect("genesis"));
    let cp = Checkpoint {
        origin: origin.clone(),
        size,
        root: tree.root(),
        extensions: Vec::new(),
    };
    (cp.sign(&origin, &f.hubs[0]), cp.body())
}

/// Target `http_bodies`: arbitrary bytes as the request body of every POST endpoint,
/// decoded as its handler decodes it (`govmesh_node::bodies::decode`, with the
/// fixture's voting state for what the handlers read from the log): never a panic,
/// and every refusal a 4xx with a message (a 5xx would be a server error).
pub fn check_http_bodies(data: &[u8]) {
    let f = fixture();
    for endpoint in govmesh_node::bodies::POST_ENDPOINTS {
        if let Err(e) = govmesh_node::bodies::decode(endpoint, data, &f.voting_state) {
            assert!(
                e.status.is_client_error(),
                "{endpoint}: {} {}: {}",
                e.status,
                e.code,
                e.message
            );
            assert!(
                !e.message.is_empty(),
                "{endpoint}: {} without a message",
                e.code
            );
        }
    }
}

/// The fixture's witness, its database in a fresh directory, holding the cosigned
/// checkpoint of the log's first 3 entries (so requests need a consistency proof).
fn fixture_witness() -> &'static govmesh_node::witness::Witness {
    static W: OnceLock<govmesh_node::witness::Witness> = OnceLock::new();
    W.get_or_init(|| {
        let f = fixture();
        let dir = std::env::temp_dir().join(format!("govmesh-fuzz-witness-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let w = govmesh_node::witness::Witness::open(&dir, f.witness.clone()).expect("witness db");
        let (note, _) = fixture_checkpoint(3);
        let body = format!("old 0\n\n{}", note.to_text());
        w.add_checkpoint(&body, &witness_origin(), &witness_hubs(), T0)
            .expect("the witness cosigns the fixture's first checkpoint");
        w
    })
}

fn witness_origin() -> String {
    govmesh_core::seal::checkpoint_origin(&fixture().voting_state.mesh_id().expect("genesis"))
}

fn witness_hubs() -> Vec<(String, govmesh_core::keys::PublicKey)> {
    fixture()
        .hubs
        .iter()
        .map(|k| (k.node_id().to_owned(), k.public()))
        .collect()
}

/// A C2SP tlog-witness add-checkpoint request from the fixture: old size 3, the
/// consistency proof to size 5, the hub-signed checkpoint of size 5.
pub fn fixture_add_checkpoint() -> String {
    use base64::Engine as _;
    let f = fixture();
    let tree =
        govmesh_core::merkle::MerkleTree::from_leaf_hashes(f.log.iter().map(LogRecord::leaf_hash));
    let proof = tree.consistency_proof(3, 5).expect("3 <= 5");
    let (note, _) = fixture_checkpoint(5);
    let mut out = "old 3\n".to_owned();
    for h in proof {
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(h.0));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&note.to_text());
    out
}

/// Target `witness_request`: arbitrary text as a C2SP tlog-witness add-checkpoint
/// request to the fixture's witness (`Witness::precheck`: the request's form, the
/// note's hub signature, the origin, the consistency proof from the size it cosigned),
/// as a seal (`seal::verify_seal` against the fixture's state: the hub signature and
/// the witness cosignatures), and each line as a cosignature line
/// (`Cosignature::parse_line`, whose parse writes back to the same line). Only a
/// request carrying the fixture hub's real signature can pass the witness.
pub fn check_witness_request(data: &[u8]) {
    use govmesh_core::cosign::Cosignature;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let w = fixture_witness();
    if let Ok(Some((cp, hub))) = w.precheck(text, &witness_origin(), &witness_hubs()) {
        assert!(cp.size >= 3, "cosigning a smaller tree than before");
        assert!(fixture().hubs.iter().any(|k| k.node_id() == hub));
    }
    if let Ok(v) = govmesh_core::seal::verify_seal(text, &fixture().voting_state) {
        assert!(fixture().hubs.iter().any(|k| k.node_id() == v.hub_node_id));
    }
    for line in text.lines() {
        if let Ok(c) = Cosignature::parse_line(line) {
            assert_eq!(Cosignature::parse_line(&c.line()).as_ref(), Ok(&c));
        }
    }
}

/// Target `proofs`: RFC 9162 inclusion and consistency proofs. From
/// `arbitrary::Unstructured`: a tree of up to 40 leaves, proofs the tree makes (which
/// verify) and mutations of them (a flipped bit, a dropped or added hash, other sizes
/// or index, other roots, sizes up to `u64::MAX`), which must not verify unless they
/// are the same proof; verification never panics. The node's proof endpoints build
/// proofs from this tree; replicating nodes and witnesses verify what peers send.
pub fn check_proofs(data: &[u8]) {
    let _ = check_proofs_inner(&mut arbitrary::Unstructured::new(data));
}

fn check_proofs_inner(u: &mut arbitrary::Unstructured) -> arbitrary::Result<()> {
    use govmesh_core::Digest;
    use govmesh_core::merkle::{MerkleTree, verify_consistency, verify_inclusion};
    let n: u64 = u.int_in_range(0..=40)?;
    let tree = MerkleTree::from_leaf_hashes((0..n).map(|i| Digest::sha256(&i.to_be_bytes())));
    let digest = |u: &mut arbitrary::Unstructured| -> arbitrary::Result<Digest> {
        Ok(Digest(u.arbitrary()?))
    };
    for _ in 0..u.int_in_range(1..=4)? {
        let huge = |u: &mut arbitrary::Unstructured, small: u64| -> arbitrary::Result<u64> {
            Ok(match u.int_in_range(0..=3)? {
                0 => u64::MAX - u.int_in_range(0..=2)?,
                1 => u.arbitrary()?,
                _ => small,
            })
        };
        if u.arbitrary()? {
            let size = u.int_in_range(0..=n)?;
            let index = u.int_in_range(0..=n)?;
            let made = tree.inclusion_proof(index, size);
            let (Ok(proof), Ok(root), Some(leaf)) = (made, tree.root_at(size), tree.leaf(index))
            else {
                // Out of range: the tree refuses to make it.
                assert!(index >= size || size > n);
                continue;
            };
            verify_inclusion(&leaf, index, size, &proof, &root).expect("a made proof verifies");
            let mut p2 = proof.clone();
            let (mut i2, mut s2, mut r2, mut l2) = (index, size, root, leaf);
            match u.int_in_range(0..=5)? {
                0 if !p2.is_empty() => {
                    let k = u.choose_index(p2.len())?;
                    p2[k].0[u.choose_index(32)?] ^= 1 << u.int_in_range(0..=7)?;
                }
                1 => p2.push(digest(u)?),
                2 if !p2.is_empty() => {
                    p2.pop();
                }
                3 => i2 = huge(u, index)?,
                4 => s2 = huge(u, size)?,
                // One of leaf and root: with both free, any leaf verifies against
                // the root its path leads to (this target found one by learning
                // that root from the comparison).
                _ if u.arbitrary()? => r2 = digest(u)?,
                _ => l2 = digest(u)?,
            }
            // Another index or size may verify with the same hashes (a checkpoint
            // binds the size to the root, not the proof): only no panic there.
            let ok = verify_inclusion(&l2, i2, s2, &p2, &r2).is_ok();
            // An empty proof proves a one-leaf tree: leaf and root equal (found by
            // this target itself: exhausted input gives two all-zero digests).
            let trivial = p2.is_empty() && l2 == r2;
            if (p2 != proof || r2 != root || l2 != leaf) && !trivial {
                assert!(
                    !ok,
                    "inclusion: a changed proof or root verified: leaf {l2} index {i2} size {s2} root {r2} proof {p2:?} (made: leaf {leaf} index {index} size {size} root {root} proof {proof:?})"
                );
            }
        } else {
            let new = u.int_in_range(0..=n)?;
            let old = u.int_in_range(0..=new)?;
            let (Ok(proof), Ok(old_root), Ok(new_root)) = (
                tree.consistency_proof(old, new),
                tree.root_at(old),
                tree.root_at(new),
            ) else {
                assert!(old == 0, "sizes 0 < {old} <= {new} <= {n} have a proof");
                continue;
            };
            verify_consistency(old, new, &old_root, &new_root, &proof)
                .expect("a made proof verifies");
            let mut p2 = proof.clone();
            let (mut o2, mut n2, mut or2, mut nr2) = (old, new, old_root, new_root);
            match u.int_in_range(0..=5)? {
                0 if !p2.is_empty() => {
                    let k = u.choose_index(p2.len())?;
                    p2[k].0[u.choose_index(32)?] ^= 1 << u.int_in_range(0..=7)?;
                }
                1 => p2.push(digest(u)?),
                2 if !p2.is_empty() => {
                    p2.pop();
                }
                3 => o2 = huge(u, old)?,
                4 => n2 = huge(u, new)?,
                _ if u.arbitrary()? => or2 = digest(u)?,
                _ => nr2 = digest(u)?,
            }
            let ok = verify_consistency(o2, n2, &or2, &nr2, &p2).is_ok();
            if p2 != proof || or2 != old_root || nr2 != new_root {
                // Equal sizes prove only equal roots, with an empty proof.
                let trivial = o2 == n2 && or2 == nr2 && p2.is_empty();
                assert!(
                    !ok || trivial,
                    "consistency: a changed proof or root verified"
                );
            }
        }
    }
    // Arbitrary everything: never a panic.
    let leaf = digest(u)?;
    let root = digest(u)?;
    let len = u.int_in_range(0..=70)?;
    let proof = (0..len)
        .map(|_| digest(u))
        .collect::<arbitrary::Result<Vec<_>>>()?;
    let (a, b): (u64, u64) = (u.arbitrary()?, u.arbitrary()?);
    let _ = verify_inclusion(&leaf, a, b, &proof, &root);
    let _ = verify_consistency(a, b, &leaf, &root, &proof);
    Ok(())
}

/// A small repository the hygiene target checks policies against (created once).
fn hygiene_repo() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("govmesh-fuzz-repo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (p, text) in [
            ("README.md", "# Fuzz\n\n## Usage\n"),
            ("LICENSE", "Apache-2.0\n"),
            (
                "src/main_module.rs",
                "// SPDX-License-Identifier: Apache-2.0\nfn main() {}\n",
            ),
            ("docs/Some File.MD", "text\n"),
            (".github/workflows/ci.yml", "on: push\n"),
        ] {
            let path = dir.join(p);
            std::fs::create_dir_all(path.parent().expect("has a parent")).expect("temp dir");
            std::fs::write(path, text).expect("temp file");
        }
        dir
    })
    .as_path()
}

/// Target `hygiene_policy`: arbitrary text as a hygiene policy file (JSON and TOML,
/// both forms) and as an imported ruleset (`.ls-lint.yml`, a repolinter ruleset); a
/// policy that parses survives a JSON round trip and checks a small repository
/// without a panic (its globs and patterns compile or are refused by name).
pub fn check_hygiene_policy(data: &[u8]) {
    use govmesh_hygiene::{CheckOptions, Policy, check, import};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut policies = Vec::new();
    policies.extend(Policy::from_json_str(text, "fuzz.json").ok());
    policies.extend(Policy::from_toml_str(text, "fuzz.toml").ok());
    for imported in [import::from_ls_lint(text), import::from_repolinter(text)]
        .into_iter()
        .flatten()
    {
        let json = serde_json::to_value(&imported.rules).expect("a ruleset serializes");
        let back: govmesh_hygiene::policy::RuleSet =
            serde_json::from_value(json).expect("an imported ruleset reads back");
        assert_eq!(
            back, imported.rules,
            "an imported ruleset changed on a round trip"
        );
        policies.extend(imported.rules.into_policy().ok());
    }
    for p in policies {
        let json = serde_json::to_value(&p).expect("a policy serializes");
        let back = Policy::from_json_value(json, "round trip").expect("a policy reads back");
        assert_eq!(back, p, "a policy changed on a JSON round trip");
        let _ = check(hygiene_repo(), &p, &CheckOptions::default());
    }
}

/// Applies the fixture checks to one seed file of a target, by target name.
pub fn check(target: &str, data: &[u8]) {
    match target {
        "canonical" => check_canonical(data),
        "envelope_apply" => check_envelope_apply(data),
        "payload_apply" => check_payload_apply(data),
        "checkpoint" => check_checkpoint(data),
        "key_file" => check_key_file(data),
        "log_record" => check_log_record(data),
        "patch" => check_patch(data),
        "http_bodies" => check_http_bodies(data),
        "witness_request" => check_witness_request(data),
        "proofs" => check_proofs(data),
        "hygiene_policy" => check_hygiene_policy(data),
        other => panic!("unknown fuzz target {other:?}"),
    }
}

/// Every target's name, as in Cargo.toml and corpus/.
pub const TARGETS: [&str; 11] = [
    "canonical",
    "envelope_apply",
    "payload_apply",
    "checkpoint",
    "key_file",
    "log_record",
    "patch",
    "http_bodies",
    "witness_request",
    "proofs",
    "hygiene_policy",
];

#[cfg(test)]
mod tests {
    //! `cargo test -p govmesh-fuzzing` (part of the workspace's tests): replays every
    //! committed seed in fuzz/corpus/ (and any crash input saved under
    //! fuzz/artifacts/) through the target's checks on stable Rust, and, when asked
    //! (`-- --ignored write_seeds`), regenerates the seed corpus from the fixture.

    use super::*;
    use govmesh_core::entry::{CloseOp, EntryPayload, WithdrawOp};
    use std::path::{Path, PathBuf};

    fn dir(kind: &str, target: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz")
            .join(kind)
            .join(target)
    }

    #[test]
    fn replay_corpus_and_artifacts() {
        let mut n = 0;
        for target in TARGETS {
            for kind in ["corpus", "artifacts"] {
                let Ok(rd) = std::fs::read_dir(dir(kind, target)) else {
                    assert!(kind != "corpus", "no seed corpus for {target}");
                    continue;
                };
                for e in rd {
                    let path = e.unwrap().path();
                    let data = std::fs::read(&path).unwrap();
                    eprintln!("{target}: {}", path.display());
                    check(target, &data);
                    n += 1;
                }
            }
        }
        assert!(n >= TARGETS.len(), "only {n} seeds");
    }

    #[test]
    fn fixture_is_a_voting_mesh() {
        let f = fixture();
        assert_eq!(f.genesis_state.size(), 1);
        assert_eq!(f.voting_state.size(), 5);
        assert!(f.voting_state.proposal(TEXT_PROPOSAL).is_some());
        assert!(f.voting_state.proposal(RULES_PROPOSAL).is_some());
    }

    /// The valid seeds really are accepted, so mutations start past the signature
    /// and tether checks.
    #[test]
    fn seeds_are_accepted_entries() {
        let f = fixture();
        for name in [
            "vote_adopts",
            "vote_veto",
            "withdraw",
            "propose_rules",
            "register_node",
        ] {
            let data = std::fs::read(dir("corpus", "envelope_apply").join(format!("{name}.json")))
                .unwrap();
            let env: Envelope = serde_json::from_slice(&data).unwrap();
            let mut s = f.voting_state.clone();
            s.apply(&env, times()[0]).unwrap_or_else(|e| {
                panic!("seed {name} refused ({e}): regenerate with -- --ignored write_seeds")
            });
        }
    }

    /// Found while writing the fuzz targets (two adoptions deep, out of a single-entry
    /// fuzzer's reach): a voting period that clause 5.5 allows can put `voting_ends`
    /// past year 9999, which RFC 3339 text cannot carry.
    #[test]
    fn state_round_trips_with_the_longest_voting_period() {
        let f = fixture();
        let mut s = f.genesis_state.clone();
        let mut at = times()[0];
        let mut submit = |s: &mut State, k: &KeyPair, op: Operation| {
            at = at.plus_secs(1);
            s.apply(&sign_entry_at(k, op, at), at)
                .unwrap_or_else(|e| panic!("refused: {e}"))
        };
        let id = "66666666-6666-4666-8666-666666666666";
        let diff = vec![DiffOp {
            path: "/voting_period_bounds/max_secs".into(),
            operation: PatchOperation::Replace,
            value: json!(9_007_199_254_740_991u64),
        }];
        let op = Operation::Propose(propose_op(&s, id, "5.5", diff));
        submit(&mut s, &f.hubs[0], op);
        for k in &f.hubs {
            submit(
                &mut s,
                k,
                Operation::Vote(VoteOp {
                    proposal_id: id.into(),
                    choice: VoteChoice::Approve,
                    reason: None,
                    sequence: 0,
                }),
            );
        }
        assert_eq!(
            s.governance_rules().unwrap().voting_period_bounds.max_secs,
            9_007_199_254_740_991
        );
        let long = "77777777-7777-4777-8777-777777777777";
        let mut p = propose_op(&s, long, "11.0", Vec::new());
        p.voting_period_secs = Some(9_007_199_254_740_991);
        submit(&mut s, &f.hubs[0], Operation::Propose(p));
        let text = serde_json::to_string(&s).unwrap();
        let back: State = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.proposal(long).unwrap().voting_ends,
            s.proposal(long).unwrap().voting_ends,
            "voting_ends does not survive serialization"
        );
    }

    fn payload(k: &KeyPair, op: Operation) -> Vec<u8> {
        canonical_bytes(&EntryPayload {
            author: k.node_id().to_owned(),
            signed_at: Some(times()[0]),
            op,
        })
        .unwrap()
    }

    fn write(target: &str, name: &str, data: &[u8]) {
        let d = dir("corpus", target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), data).unwrap();
    }

    /// Regenerates fuzz/corpus/: `cargo test -p govmesh-fuzzing -- --ignored write_seeds`.
    #[test]
    #[ignore]
    fn write_seeds() {
        let f = fixture();
        let vote = |_k: &KeyPair, id: &str, choice| {
            Operation::Vote(VoteOp {
                proposal_id: id.into(),
                choice,
                reason: Some("fuzz seed".into()),
                sequence: 0,
            })
        };
        let ops: Vec<(&str, &KeyPair, Operation)> = vec![
            (
                "vote_adopts",
                &f.hubs[1],
                vote(&f.hubs[1], RULES_PROPOSAL, VoteChoice::Approve),
            ),
            (
                "vote_veto",
                &f.hubs[2],
                vote(&f.hubs[2], TEXT_PROPOSAL, VoteChoice::Veto),
            ),
            (
                "vote_witness",
                &f.witness,
                vote(&f.witness, TEXT_PROPOSAL, VoteChoice::Reject),
            ),
            (
                "withdraw",
                &f.hubs[0],
                Operation::Withdraw(WithdrawOp {
                    proposal_id: TEXT_PROPOSAL.into(),
                    reason: None,
                }),
            ),
            (
                "close",
                &f.hubs[2],
                Operation::Close(CloseOp {
                    proposal_id: TEXT_PROPOSAL.into(),
                    track: None,
                }),
            ),
            (
                "propose_rules",
                &f.hubs[2],
                Operation::Propose(propose_op(
                    &f.genesis_state,
                    "55555555-5555-4555-8555-555555555555",
                    "5.5",
                    vec![DiffOp {
                        path: "/voting_period_bounds/min_secs".into(),
                        operation: PatchOperation::Replace,
                        value: json!(120),
                    }],
                )),
            ),
            (
                "register_node",
                &f.hubs[0],
                Operation::RegisterNode(spec(&f.stranger, NodeType::GovernanceHub)),
            ),
        ];
        for (name, k, op) in ops {
            let p = payload(k, op.clone());
            write("payload_apply", &format!("{name}.json"), &p);
            let env = sign_entry_at(k, op, times()[0]);
            let text = serde_json::to_vec(&env).unwrap();
            write("envelope_apply", &format!("{name}.json"), &text);
            let rec = LogRecord {
                index: f.voting_state.size(),
                timestamp: times()[0],
                envelope: env,
            };
            write(
                "log_record",
                &format!("{name}.json"),
                &serde_json::to_vec(&rec).unwrap(),
            );
        }
        let genesis = serde_json::to_vec(&f.log[0].envelope).unwrap();
        write("envelope_apply", "genesis.json", &genesis);
        write("canonical", "genesis_envelope.json", &genesis);
        write(
            "payload_apply",
            "genesis.json",
            &f.log[0].envelope.payload_bytes().unwrap(),
        );
        write(
            "log_record",
            "propose_text_at_1.json",
            &serde_json::to_vec(&f.log[1]).unwrap(),
        );
        write(
            "canonical",
            "rfc8785_3_2_2.json",
            br#"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}"#,
        );
        write(
            "canonical",
            "nested.json",
            b"[{\"b\":[[],{}],\"a\":-0.0,\"\xc3\xa9\":9007199254740991}]",
        );

        let cp = Checkpoint {
            origin: "example.com/fuzz-mesh".into(),
            size: 5,
            root: f.log[4].leaf_hash(),
            extensions: vec!["extension line".into()],
        };
        let note = cp.sign("fuzz", &f.hubs[0]);
        write(
            "checkpoint",
            "signed_checkpoint.txt",
            note.to_text().as_bytes(),
        );
        write("checkpoint", "body.txt", cp.body().as_bytes());
        let mut two = note.clone();
        two.add_signature("other.example/witness", &f.witness);
        write("checkpoint", "two_signatures.txt", two.to_text().as_bytes());

        write("key_file", "hub.json", f.hubs[0].to_file_json().as_bytes());
        write(
            "key_file",
            "named.json",
            KeyPair::from_seed([7; 32])
                .with_node_id("node-\u{e9}-7".into())
                .to_file_json()
                .as_bytes(),
        );

        // http_bodies: one real body per endpoint family.
        let vote_env = serde_json::to_vec(&sign_entry_at(
            &f.hubs[2],
            vote(&f.hubs[2], TEXT_PROPOSAL, VoteChoice::Approve),
            times()[0],
        ))
        .unwrap();
        write("http_bodies", "entry.json", &vote_env);
        write(
            "http_bodies",
            "forward.json",
            format!("[{}]", String::from_utf8(vote_env).unwrap()).as_bytes(),
        );
        write(
            "http_bodies",
            "operator_vote.json",
            br#"{"proposal_id":"22222222-2222-4222-8222-222222222222","choice":"approve","reason":"r"}"#,
        );
        write(
            "http_bodies",
            "operator_propose.json",
            br#"{"contract_id":"codex","clause":"5.5","proposed_text":"t","rationale":"r","diff":[{"op":"replace","path":"/voting_period_bounds/min_secs","value":120},{"operation":"remove","path":"/x","value":null}],"voting_period_secs":60,"governance_scope":"federated"}"#,
        );
        write(
            "http_bodies",
            "operator_domains.json",
            br#"{"name":"ops","admin_node_id":"a","member_nodes":["a","b"],"shared_clauses":["11.0"],"policy":{"quorum":0.5,"weights":{"a":2}}}"#,
        );
        write(
            "http_bodies",
            "operator_contracts.json",
            br#"{"contract_id":"data-retention","label":"Data","domain_id":"d","clauses":[{"clause_id":"1","title":"t","text":"x","rules":{}}]}"#,
        );
        write(
            "http_bodies",
            "operator_nodes.json",
            br#"{"node_type":"trust_fork","public_key":"O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=","network_address":"http://127.0.0.1:1"}"#,
        );
        write(
            "http_bodies",
            "raft_vote.json",
            br#"{"vote":{"leader_id":{"term":2,"node_id":1},"committed":false},"last_log_id":{"leader_id":{"term":1,"node_id":1},"index":4}}"#,
        );
        write(
            "http_bodies",
            "raft_append.json",
            br#"{"vote":{"leader_id":{"term":2,"node_id":1},"committed":true},"prev_log_id":null,"entries":[],"leader_commit":null}"#,
        );
        write("http_bodies", "announce.txt", fixture_seal().as_bytes());
        write(
            "http_bodies",
            "add_checkpoint.txt",
            fixture_add_checkpoint().as_bytes(),
        );
        write(
            "http_bodies",
            "form.txt",
            b"token=t&target=codex%3A11.0&proposed_text=x&rationale=y&voting_period_secs=60&member_nodes=a&member_nodes=b",
        );

        write(
            "witness_request",
            "add_checkpoint.txt",
            fixture_add_checkpoint().as_bytes(),
        );
        write("witness_request", "seal.txt", fixture_seal().as_bytes());

        write("proofs", "zeros.bin", &[0u8; 64]);
        write("proofs", "walk.bin", &(0u8..=255).collect::<Vec<_>>());
        write("proofs", "ff.bin", &[0xffu8; 96]);

        let codex =
            serde_json::to_vec_pretty(&govmesh_core::codex::default_hygiene_policy()).unwrap();
        write("hygiene_policy", "codex_default.json", &codex);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hygiene/tests/fixtures");
        for (name, file) in [
            ("naming.policy.toml", "naming.policy.toml"),
            ("repolinter.ruleset.json", "repolinter.ruleset.json"),
        ] {
            write(
                "hygiene_policy",
                name,
                &std::fs::read(root.join(file)).unwrap(),
            );
        }
        write(
            "hygiene_policy",
            "ls-lint.yml",
            b"ls:\n  .dir: kebab-case\n  .ts: camelCase | PascalCase\n  src/models:\n    .json: regex:^[a-z]+$\n  docs:\n    .md: exists:1\nignore:\n  - node_modules\n",
        );

        write("patch", "zeros.bin", &[0u8; 48]);
        write("patch", "walk.bin", &(0u8..=255).collect::<Vec<_>>());
        write("patch", "ones.bin", &[0x55u8; 64]);
    }
}
