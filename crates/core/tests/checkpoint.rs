//! C2SP signed notes and tlog checkpoints: the Ed25519 vectors of Go's
//! `golang.org/x/mod/sumdb/note` tests (same key-id rule), the spec's own examples,
//! malformed inputs each refused with a reason, and round trips.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use govmesh_core::Digest;
use govmesh_core::checkpoint::{
    Checkpoint, MAX_NOTE_SIGNATURES, NoteError, SignedNote, note_key_hash, note_verifier_key,
    parse_note_verifier_key,
};
use govmesh_core::keys::KeyPair;
use proptest::prelude::*;

const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/// The signing key of Go's test vector: `PRIVATE+KEY+name+hash+base64(0x01 || seed)`.
fn peter() -> KeyPair {
    let raw = STANDARD
        .decode(PETER_SKEY.splitn(5, '+').nth(4).unwrap())
        .unwrap();
    assert_eq!(raw[0], 0x01);
    KeyPair::from_seed(raw[1..].try_into().unwrap())
}

#[test]
fn signs_exactly_like_go_sumdb_note() {
    let key = peter();
    assert_eq!(note_verifier_key("PeterNeumann", &key.public()), PETER_VKEY);
    assert_eq!(
        note_key_hash("PeterNeumann", &key.public()),
        [0xc7, 0x4f, 0x20, 0xa3]
    );
    let note = SignedNote::sign(TEXT.to_owned(), "PeterNeumann", &key);
    assert_eq!(note.to_text(), format!("{TEXT}\n{PETER_SIG}"));
    // Signing again with the same key replaces the signature instead of adding one.
    let mut again = note.clone();
    again.add_signature("PeterNeumann", &key);
    assert_eq!(again, note);
}

#[test]
fn opens_go_notes_with_several_signatures() {
    let (peter_name, peter_key) = parse_note_verifier_key(PETER_VKEY).unwrap();
    let (enoch_name, enoch_key) = parse_note_verifier_key(ENOCH_VKEY).unwrap();
    assert_eq!(enoch_name, "EnochRoot");
    let note = SignedNote::parse(&format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}")).unwrap();
    assert_eq!(note.body, TEXT);
    assert_eq!(note.signatures.len(), 2);
    assert_eq!(note.signatures[1].key_hash, [0xaf, 0x0c, 0xfe, 0x78]);
    note.verify(&peter_name, &peter_key).unwrap();
    note.verify(&enoch_name, &enoch_key).unwrap();
    // Right key under another name: the key hash differs, so it is someone else.
    assert_eq!(
        note.verify("CarmenSandiego", &peter_key),
        Err(NoteError::NoSignature {
            name: "CarmenSandiego".into()
        })
    );
    assert_eq!(
        note.verify("PeterNeumann", &enoch_key),
        Err(NoteError::NoSignature {
            name: "PeterNeumann".into()
        })
    );
    // A corrupted signature from a known key fails loudly.
    let corrupt = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let note = SignedNote::parse(&corrupt).unwrap();
    assert_eq!(
        note.verify(&peter_name, &peter_key),
        Err(NoteError::BadSignature {
            name: "PeterNeumann".into()
        })
    );
    // A changed text fails.
    let changed = format!("{}\n{PETER_SIG}", TEXT.replace("answer", "Answer"));
    assert!(matches!(
        SignedNote::parse(&changed)
            .unwrap()
            .verify(&peter_name, &peter_key),
        Err(NoteError::BadSignature { .. })
    ));
}

#[test]
fn verifier_keys_are_checked() {
    for bad in [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",
        "PeterNeumann+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(
            matches!(
                parse_note_verifier_key(bad),
                Err(NoteError::MalformedNote(_))
            ),
            "{bad} accepted"
        );
    }
}

/// The examples of the C2SP signed-note and tlog-checkpoint documents parse.
#[test]
fn spec_examples_parse() {
    let note = SignedNote::parse(
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n\
         — quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n",
    )
    .unwrap();
    // The text may contain empty lines; the last one separates it from signatures.
    assert!(note.body.ends_with(":\n\ned è subito sera.\n"));
    assert_eq!(note.signatures[0].name, "quasimodo.example/salvatore");
    assert_eq!(note.signatures[0].signature.len(), 64);

    let text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
                — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
    let note = SignedNote::parse(text).unwrap();
    let cp = note.checkpoint().unwrap();
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, 20852163);
    assert_eq!(
        cp.root.to_hex(),
        hex::encode(
            STANDARD
                .decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
                .unwrap()
        )
    );
    assert_eq!(note.to_text(), text);
}

fn sample_checkpoint() -> Checkpoint {
    Checkpoint {
        origin: "govmesh.example/mesh-a".into(),
        size: 42,
        root: Digest::sha256(b"root"),
        extensions: vec![],
    }
}

#[test]
fn checkpoint_sign_open_round_trip() {
    let hub = KeyPair::from_seed([9u8; 32]);
    let witness = KeyPair::from_seed([10u8; 32]);
    let cp = sample_checkpoint();
    let body = cp.body();
    assert_eq!(
        body,
        format!(
            "govmesh.example/mesh-a\n42\n{}\n",
            STANDARD.encode(cp.root.0)
        )
    );
    let mut note = cp.sign("govmesh.example/mesh-a", &hub);
    note.add_signature("witness.example/w1", &witness);
    let text = note.to_text();
    assert_eq!(
        Checkpoint::open(&text, "govmesh.example/mesh-a", &hub.public()).unwrap(),
        cp
    );
    let parsed = SignedNote::parse(&text).unwrap();
    assert_eq!(parsed, note);
    parsed
        .verify("witness.example/w1", &witness.public())
        .unwrap();
    // The hub's key under the witness's name is not a signature we know.
    assert!(matches!(
        Checkpoint::open(&text, "witness.example/w1", &hub.public()),
        Err(NoteError::NoSignature { .. })
    ));
    // A changed size in the body breaks the hub's signature.
    let forged = text.replacen("\n42\n", "\n43\n", 1);
    assert_eq!(
        Checkpoint::open(&forged, "govmesh.example/mesh-a", &hub.public()),
        Err(NoteError::BadSignature {
            name: "govmesh.example/mesh-a".into()
        })
    );
    let with_ext = Checkpoint {
        extensions: vec!["ext one".into(), "— two".into()],
        ..cp
    };
    assert_eq!(Checkpoint::parse_body(&with_ext.body()).unwrap(), with_ext);
}

#[test]
fn signing_refuses_what_a_note_cannot_carry() {
    let key = KeyPair::from_seed([1u8; 32]);
    for (body, name) in [
        ("no newline", "a"),
        ("", "a"),
        ("tab\there\n", "a"),
        ("fine\n", ""),
        ("fine\n", "two words"),
        ("fine\n", "a+b"),
    ] {
        assert!(
            matches!(
                SignedNote::try_sign(body.to_owned(), name, &key),
                Err(NoteError::MalformedNote(_))
            ),
            "{body:?} / {name:?} accepted"
        );
    }
}

#[test]
fn checkpoints_that_cannot_be_written_are_refused() {
    let key = KeyPair::from_seed([2u8; 32]);
    let good = sample_checkpoint();
    for bad in [
        Checkpoint {
            origin: String::new(),
            ..good.clone()
        },
        Checkpoint {
            origin: "two\nlines".into(),
            ..good.clone()
        },
        Checkpoint {
            origin: "bell\u{7}".into(),
            ..good.clone()
        },
        Checkpoint {
            extensions: vec![String::new()],
            ..good.clone()
        },
        Checkpoint {
            extensions: vec!["a\nb".into()],
            ..good.clone()
        },
        Checkpoint {
            extensions: vec!["e".into(); 17],
            ..good.clone()
        },
    ] {
        assert!(
            matches!(bad.try_sign("hub", &key), Err(NoteError::Malformed(_))),
            "{bad:?} signed"
        );
    }
    assert!(matches!(
        good.try_sign("h u b", &key),
        Err(NoteError::MalformedNote(_))
    ));
    good.try_sign("hub", &key).unwrap();
}

/// Parses `text` as a signed checkpoint and expects an error whose message contains
/// `expected`.
fn check_refused(text: &str, expected: &str) {
    let result = SignedNote::parse(text).and_then(|n| n.checkpoint());
    match result {
        Ok(cp) => panic!("accepted {text:?} as {cp:?}"),
        Err(e) => assert!(
            e.to_string().contains(expected),
            "{text:?}: error {e:?} does not mention {expected:?}"
        ),
    }
}

#[test]
fn malformed_notes_and_checkpoints_are_refused_with_a_reason() {
    let hub = KeyPair::from_seed([9u8; 32]);
    let good = sample_checkpoint().sign("hub", &hub).to_text();
    let sig = &good[good.rfind("\n\n").unwrap() + 2..];
    let root = STANDARD.encode(Digest::sha256(b"root").0);
    let with_body = |body: &str| format!("{body}\n{sig}");

    check_refused(&good.replace("\n\n", "\n"), "no blank line");
    check_refused(good.trim_end_matches('\n'), "does not end with a newline");
    check_refused(&format!("{good}\n"), "no signature lines");
    check_refused(
        &format!("{}\n", &good[..good.rfind("\n\n").unwrap() + 1]),
        "no signature lines",
    );
    check_refused(&good.replace('—', "-"), "em dash");
    check_refused(&good.replace("— hub ", "— hub  "), "not standard base64");
    check_refused(&good.replace("— hub ", "— hub"), "separated by a space");
    check_refused(&good.replace("— hub ", "— a+b "), "contains '+'");
    check_refused(&good.replace("— hub ", "— hub !"), "not standard base64");
    check_refused(&format!("{good}— hub AAAA\n"), "needs a 4-byte key id");
    check_refused(&good.replace('\n', "\r\n"), "control character");
    check_refused(
        &format!("{good}{}", sig.repeat(MAX_NOTE_SIGNATURES)),
        "too many signature lines",
    );
    check_refused(&format!("{good}unexpected line\n"), "em dash");
    check_refused(&"x".repeat(70_000), "limit");

    check_refused(&with_body("o\n42\n"), "needs origin, tree size and root");
    check_refused(
        &with_body(&format!("\n42\n{root}\n")),
        "origin line is empty",
    );
    check_refused(&with_body(&format!("o\n042\n{root}\n")), "leading zero");
    check_refused(&with_body(&format!("o\n00\n{root}\n")), "leading zero");
    check_refused(&with_body(&format!("o\n+42\n{root}\n")), "not a decimal");
    check_refused(&with_body(&format!("o\n-1\n{root}\n")), "not a decimal");
    check_refused(&with_body(&format!("o\n4 2\n{root}\n")), "not a decimal");
    check_refused(&with_body(&format!("o\n\n{root}\n")), "is not a decimal");
    check_refused(&with_body(&format!("o\n0x2a\n{root}\n")), "not a decimal");
    check_refused(
        &with_body(&format!("o\n18446744073709551616\n{root}\n")),
        "64 bits",
    );
    check_refused(&with_body("o\n42\nnot base64!\n"), "not standard base64");
    check_refused(
        &with_body(&format!("o\n42\n{}\n", root.trim_end_matches('='))),
        "not standard base64",
    );
    check_refused(
        &with_body(&format!("o\n42\n{}\n", STANDARD.encode([1u8; 31]))),
        "31 bytes",
    );
    check_refused(
        &with_body(&format!("o\n42\n{}\n", STANDARD.encode([1u8; 33]))),
        "33 bytes",
    );
    check_refused(
        &with_body(&format!("o\n42\n{root}\n{}", "ext\n".repeat(17))),
        "too many lines",
    );

    // The smallest valid forms are accepted.
    let empty = Checkpoint::parse_body(&format!("o\n0\n{root}\n")).unwrap();
    assert_eq!(empty.size, 0);
    let max = Checkpoint::parse_body(&format!("o\n18446744073709551615\n{root}\n")).unwrap();
    assert_eq!(max.size, u64::MAX);
}

proptest! {
    #[test]
    fn checkpoints_round_trip(
        origin in "[a-z0-9./-]{1,40}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        extensions in prop::collection::vec("[ -~]{1,30}", 0..4),
        seed in any::<[u8; 32]>(),
    ) {
        let cp = Checkpoint { origin: origin.clone(), size, root: Digest(root), extensions };
        let key = KeyPair::from_seed(seed);
        let text = cp.sign(&origin, &key).to_text();
        prop_assert_eq!(Checkpoint::open(&text, &origin, &key.public()).unwrap(), cp);
    }

    #[test]
    fn parse_never_panics(text in "(\\PC|\n){0,200}") {
        let _ = SignedNote::parse(&text).and_then(|n| n.checkpoint());
    }

    #[test]
    fn any_flipped_byte_of_a_signed_checkpoint_is_caught(at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let key = KeyPair::from_seed([5u8; 32]);
        let text = sample_checkpoint().sign("hub", &key).to_text();
        let mut bytes = text.into_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(changed) = String::from_utf8(bytes) {
            let opened = Checkpoint::open(&changed, "hub", &key.public());
            prop_assert!(opened.is_err(), "accepted {:?}", changed);
        }
    }
}
