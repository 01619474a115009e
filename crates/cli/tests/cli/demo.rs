//! `govmesh demo`: the story runs to adoption, keys are private, and a second run on
//! the same directory resumes without a second story.

use crate::util::*;

#[test]
fn demo_runs_the_story_then_resumes() {
    let d = tmp();
    let dir = d.path().join("demo");
    let mut run = Running::start(&["demo", "--data", s(&dir), "--listen", "127.0.0.1:0"]);
    run.wait_line(|l| l.starts_with("serving "));
    let url = run.url.clone();
    let out = run.seen.join("\n");
    assert!(out.contains("hub-3 votes approve"), "{out}");

    let l = get(&url, "/v1/proposals");
    let list = l["proposals"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{l}");
    let adopted: Vec<_> = list.iter().filter(|p| p["status"] == "adopted").collect();
    let voting: Vec<_> = list.iter().filter(|p| p["status"] == "voting").collect();
    assert_eq!((adopted.len(), voting.len()), (1, 1), "{l}");
    assert_eq!(adopted[0]["adopted_revision"], 2);
    assert_eq!(adopted[0]["voting_result"]["reject_votes"], 1);
    let open_id = voting[0]["proposal_id"].as_str().unwrap();
    assert!(out.contains(open_id), "the open proposal is named:\n{out}");
    assert_eq!(get(&url, "/v1/contracts/codex")["revision"], 2);

    assert_eq!(mode(&dir.join("keys")), 0o700);
    for i in 1..=3 {
        assert_eq!(mode(&dir.join(format!("keys/hub-{i}.key"))), 0o600);
    }
    let size = get(&url, "/v1/status")["log_size"].clone();
    ok(&["verify", "--node", &url]);
    drop(run); // SIGKILL

    let mut again = Running::start(&["demo", "--data", s(&dir), "--listen", "127.0.0.1:0"]);
    again.wait_line(|l| l.starts_with("serving "));
    let out = again.seen.join("\n");
    assert!(!out.contains("votes"), "no second story:\n{out}");
    assert!(out.contains(open_id), "{out}");
    assert_eq!(get(&again.url, "/v1/status")["log_size"], size);

    // A vote with a demo key, as the printed hint says, decides the open proposal.
    let k2 = dir.join("keys/hub-2.key");
    ok(&[
        "vote",
        "--node",
        &again.url,
        "--key",
        s(&k2),
        open_id,
        "approve",
    ]);
}
