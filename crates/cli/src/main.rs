//! `govmesh`: the command-line tool. Parses arguments and hands each command to its
//! module; exit code 0 on success, 1 when a node refused or verification failed, 2 on
//! usage and I/O errors, with a one-line `error: <reason>` on stderr.
#![forbid(unsafe_code)]

#[macro_use]
mod fail;
mod bench;
mod bench_idle;
mod bench_verify;
mod chaos;
mod client;
mod commands;
mod demo;
mod faultproxy;
mod hygiene_cmd;
mod keyfile;
mod local;
mod logging;
mod soak;
mod verify;

use clap::{Args, Parser, Subcommand, ValueEnum};
use govmesh_core::model::{GovernanceScope, ResolutionType};
use std::path::PathBuf;

/// mimalloc instead of the system allocator: the council's hot path (HTTP, JSON,
/// the state machine) allocates per request, and glibc's malloc took a fifth of a
/// hub's time in the council benchmark. Built without transparent huge pages
/// (`no_thp`): with them, `hygiene check` on u-boot peaked at 96-110 MB instead of
/// 84-88 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "govmesh",
    version,
    about = "A governance mesh: signed, replicated, verifiable governance contracts"
)]
struct Cli {
    /// Print the API's JSON instead of human-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Which node to talk to.
#[derive(Debug, Args, Clone)]
pub struct NodeArg {
    /// Base URL of the node's API.
    #[arg(
        long,
        env = "GOVMESH_NODE",
        default_value = "http://127.0.0.1:7420",
        global = true,
        value_name = "URL"
    )]
    pub node: String,
}

/// How to sign: locally with a key file, or as the node through its operator token.
#[derive(Debug, Args, Clone)]
pub struct AuthArgs {
    /// Sign locally with this key file (from `govmesh key new`).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Without --key: use the node's operator endpoints with the token in this file.
    #[arg(long, conflicts_with = "key", value_name = "FILE")]
    pub token: Option<PathBuf>,
    /// Without --key: the node's data directory (its operator.token is used).
    #[arg(long, conflicts_with_all = ["key", "token"], value_name = "DIR")]
    pub data: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LinkType {
    Direct,
    Relay,
    Backup,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scope {
    Federated,
    Isolated,
    Local,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Resolution {
    PolicyA,
    PolicyB,
    Compromise,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Choice {
    Approve,
    Reject,
    Abstain,
    Veto,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NodeTypeArg {
    #[value(name = "governance_hub", alias = "governance-hub")]
    GovernanceHub,
    #[value(name = "compliance_witness", alias = "compliance-witness")]
    ComplianceWitness,
    #[value(name = "trust_fork", alias = "trust-fork")]
    TrustFork,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a node's data directory: found a mesh with a Codex genesis (written to
    /// DIR/genesis.json), or join one as a founder with --genesis FILE --key FILE.
    Init {
        /// The data directory to create.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Human name of the mesh.
        #[arg(long, default_value = "govmesh", value_name = "NAME")]
        mesh_name: String,
        /// This node's key file (created in the data directory if not given; required
        /// with --genesis).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Another founding governance hub: a key file or a base64 public key,
        /// optionally followed by @http://HOST:PORT, its address.
        #[arg(long = "founder", value_name = "KEY[@URL]", conflicts_with = "genesis")]
        founders: Vec<String>,
        /// A founding compliance witness (KEY[@URL] as for --founder).
        #[arg(long = "witness", value_name = "KEY[@URL]", conflicts_with = "genesis")]
        witnesses: Vec<String>,
        /// A founding trust fork (KEY[@URL] as for --founder).
        #[arg(long = "fork", value_name = "KEY[@URL]", conflicts_with = "genesis")]
        forks: Vec<String>,
        /// The address other nodes reach this node at, recorded in the genesis.
        #[arg(long, value_name = "ADDR", conflicts_with = "genesis")]
        network_address: Option<String>,
        /// Join the mesh this genesis record (another founder's genesis.json) starts.
        #[arg(long, value_name = "FILE", requires = "key")]
        genesis: Option<PathBuf>,
    },
    /// Run a node from its data directory until Ctrl-C.
    Serve {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Address to listen on (port 0 picks a free port; default: the address in
        /// node.json, where the node last listened, else 127.0.0.1:7420).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Stop when standard input closes (the demo starts its nodes so, so that
        /// they stop with it).
        #[arg(long, hide = true)]
        stop_with_parent: bool,
        /// A node to replicate the log from besides the registry's addresses
        /// (non-hub nodes; asked first). Repeatable.
        #[arg(long = "peer", value_name = "URL")]
        peers: Vec<String>,
        /// Listen on --listen although the node's registration names another address
        /// (a proxy forwards the registered address here). Without it, `serve`
        /// refuses to listen anywhere but the registered address (port 0 aside).
        #[arg(long)]
        behind_proxy: bool,
        /// Also serve HTTPS on the same address with this certificate chain (PEM,
        /// leaf first): browsers give the dashboard's in-browser verification and
        /// signing (WebCrypto) only to HTTPS pages, or to loopback. Peers keep
        /// calling the registered http:// address. Needs --tls-key.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Move the node: listen on --listen although its registration names another
        /// address, and submit an update_node entry (signed by the node) registering
        /// the new one, so peers call it there.
        #[arg(long, conflicts_with = "behind_proxy", requires = "listen")]
        re_register: bool,
        /// Log lines as text or as JSON objects (to stderr).
        #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
        log_format: logging::LogFormat,
    },
    /// Start a mesh of hubs, witnesses and trust forks as separate processes on
    /// loopback, run a proposal through it and keep serving until Ctrl-C.
    Demo {
        /// Data directory (default: a new ./govmesh-demo-<timestamp>); a second run on
        /// it restarts the nodes.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// The first hub's address (default 127.0.0.1:7420, or a free port if taken);
        /// the other nodes get free ports.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Governance hubs (the Raft council).
        #[arg(long, default_value_t = 3, value_name = "N")]
        hubs: usize,
        /// Compliance witnesses.
        #[arg(long, default_value_t = 2, value_name = "N")]
        witnesses: usize,
        /// Trust forks.
        #[arg(long, default_value_t = 3, value_name = "N")]
        forks: usize,
        /// Log lines as text or as JSON objects (the demo's and its nodes' logs).
        #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
        log_format: logging::LogFormat,
    },
    /// Benchmarks with real processes on loopback (see README).
    Bench {
        #[command(subcommand)]
        cmd: bench::BenchCommand,
    },
    /// Key files.
    Key {
        #[command(subcommand)]
        cmd: KeyCommand,
    },
    /// Propose a change to a contract clause; prints the proposal id.
    Propose {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(long, default_value = "codex", value_name = "ID")]
        contract: String,
        /// The clause to change, e.g. 5.5.
        #[arg(long, value_name = "CLAUSE")]
        clause: String,
        /// The clause's proposed text.
        #[arg(long, value_name = "TEXT")]
        text: String,
        /// Why the change is proposed.
        #[arg(long, value_name = "TEXT")]
        rationale: String,
        /// An RFC 6902 JSON Patch (file) of the clause's rules.
        #[arg(long, value_name = "FILE")]
        rules_patch: Option<PathBuf>,
        /// The governing domain (default: the contract's default domain).
        #[arg(long, value_name = "ID")]
        domain: Option<String>,
        /// Voting period in seconds, if the policy allows.
        #[arg(long, value_name = "SECS")]
        voting_period: Option<u64>,
        /// Where it applies: federated (mesh-wide, the default), isolated (the members
        /// of --domain) or local (--local-node).
        #[arg(long, value_enum, value_name = "SCOPE")]
        scope: Option<Scope>,
        /// The node a local proposal applies to (default: the signer).
        #[arg(long, value_name = "NODE_ID")]
        local_node: Option<String>,
        /// The conflict (between a federated change and this node's or domain's local
        /// override) this proposal resolves; with --resolution.
        #[arg(long, value_name = "CONFLICT_ID", requires = "resolution")]
        resolves: Option<String>,
        /// How: policy-a (the federated clause), policy-b (keep the override) or
        /// compromise (this proposal's text and rules).
        #[arg(long, value_enum, value_name = "HOW", requires = "resolves")]
        resolution: Option<Resolution>,
        /// Ask for the policy's expedited track (shorter period, its own quorum and
        /// threshold; a failure falls back to the normal track).
        #[arg(long)]
        expedited: bool,
    },
    /// Vote on a proposal.
    Vote {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        auth: AuthArgs,
        proposal_id: String,
        #[arg(value_enum)]
        choice: Choice,
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// The vote's sequence number (default: one more than your counted vote, 0 for
        /// a first vote). A higher one changes your vote where the policy allows it;
        /// a different vote with the same one is equivocation.
        #[arg(long, value_name = "N")]
        sequence: Option<u64>,
    },
    /// Delegate your voting weight in a domain to another member (revocable; read by
    /// proposals opened from then on).
    Delegate {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(long, value_name = "ID")]
        domain: String,
        /// The member who votes your weight when you do not.
        #[arg(value_name = "NODE_ID")]
        delegate: String,
    },
    /// Revoke your delegation in a domain.
    Undelegate {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(long, value_name = "ID")]
        domain: String,
    },
    /// Cancel an adopted proposal during its timelock (clause 5.5's guardian role).
    Cancel {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        auth: AuthArgs,
        proposal_id: String,
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Propose to restore a suspended node's voting and proposing rights; prints the
    /// proposal id.
    Restore {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(value_name = "NODE_ID")]
        node_id: String,
        #[arg(long, value_name = "TEXT")]
        rationale: String,
        #[arg(long, value_name = "SECS")]
        voting_period: Option<u64>,
    },
    /// Withdraw your own proposal.
    Withdraw {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        auth: AuthArgs,
        proposal_id: String,
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Contracts: current text, revisions and diffs.
    Contract {
        #[command(flatten)]
        node: NodeArg,
        #[command(subcommand)]
        cmd: ContractCommand,
    },
    /// Proposals and their tallies.
    Proposal {
        #[command(flatten)]
        node: NodeArg,
        #[command(subcommand)]
        cmd: ProposalCommand,
    },
    /// The node registry.
    Node {
        #[command(flatten)]
        node: NodeArg,
        #[command(subcommand)]
        cmd: NodeCommand,
    },
    /// Trust domains.
    Domain {
        #[command(flatten)]
        node: NodeArg,
        #[command(subcommand)]
        cmd: DomainCommand,
    },
    /// The mesh topology: nodes with liveness, domains, connections, health (the
    /// record carries every declared connection and a bounded sample of the observed
    /// ones; `topology connections` lists them all).
    Topology {
        #[command(flatten)]
        node: NodeArg,
        #[command(subcommand)]
        cmd: Option<TopologyCommand>,
    },
    /// Declare a connection between two nodes (needs the privilege clause 5.5 names
    /// for connect); prints the log index.
    Connect {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(long, value_name = "NODE_ID")]
        source: String,
        #[arg(long, value_name = "NODE_ID")]
        target: String,
        #[arg(
            long = "type",
            value_enum,
            default_value = "direct",
            value_name = "TYPE"
        )]
        connection_type: LinkType,
    },
    /// Withdraw a declared connection.
    Disconnect {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(long, value_name = "NODE_ID")]
        source: String,
        #[arg(long, value_name = "NODE_ID")]
        target: String,
    },
    /// Contract sync records: where each contract revision has arrived.
    Sync {
        #[command(flatten)]
        node: NodeArg,
        #[command(subcommand)]
        cmd: SyncCommand,
    },
    /// Trust scores (clause 5.4 trust_model, EigenTrust over observations in the
    /// log): every node's score and rank, or one node's with the observations behind it
    /// and its history.
    Trust {
        #[command(flatten)]
        node: NodeArg,
        /// A node id: show this node in detail.
        #[arg(value_name = "NODE")]
        subject: Option<String>,
    },
    /// The node's status: log size, root, contract heads.
    Status {
        #[command(flatten)]
        node: NodeArg,
    },
    /// The governance log.
    Log {
        #[command(flatten)]
        node: NodeArg,
        #[command(subcommand)]
        cmd: LogCommand,
    },
    /// Replay and check a whole log from genesis: from a node or an exported file.
    Verify {
        /// A file written by `govmesh log export` (instead of --node).
        file: Option<PathBuf>,
        /// The node to verify (default $GOVMESH_NODE or http://127.0.0.1:7420); FILE wins.
        #[arg(long, env = "GOVMESH_NODE", value_name = "URL")]
        node: Option<String>,
        /// The expected mesh id (hash of the genesis entry).
        #[arg(long, value_name = "HASH")]
        genesis: Option<String>,
    },
    /// Repository hygiene (clause 5.2.5).
    Hygiene {
        #[command(subcommand)]
        cmd: hygiene_cmd::HygieneCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Generate a new Ed25519 identity into a new file (mode 0600).
    New {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Replace a node's key: a new key is staged in DIR/node.key.next (0600), an
    /// update_node entry naming its public key, signed by the old key and carrying the
    /// new key's proof of possession, is submitted, and once it is in the log the new
    /// key replaces DIR/node.key (atomically). Entries signed before keep verifying;
    /// the old key signs nothing new. Restart a running node afterwards.
    Rotate {
        /// The node's data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// A running node of the mesh to submit through (default: this node, when it
        /// is running).
        #[arg(long, value_name = "URL")]
        node: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Propose a new contract (a proposal under the Codex's clause 5.5, decided by the
    /// council); once adopted, DOMAIN decides its changes. Prints the proposal id.
    Create {
        #[command(flatten)]
        auth: AuthArgs,
        /// The new contract's id, e.g. data-retention.
        #[arg(long, value_name = "ID")]
        id: String,
        /// Its title (the contract's label).
        #[arg(long, value_name = "TITLE")]
        title: String,
        /// The trust domain that will decide changes to it.
        #[arg(long, value_name = "DOMAIN_ID")]
        domain: String,
        /// Its clauses: a JSON array of {"id" (or "clause_id"), "title", "text", "rules"}.
        #[arg(long, value_name = "FILE")]
        clauses: PathBuf,
        /// Why the contract is proposed.
        #[arg(long, value_name = "TEXT")]
        rationale: Option<String>,
    },
    /// A contract's current (or given) revision.
    Show {
        #[arg(default_value = "codex")]
        id: String,
        #[arg(long, value_name = "N", conflicts_with = "for_node")]
        revision: Option<u64>,
        /// The effective contract for this node: its local overrides marked.
        #[arg(long = "for", value_name = "NODE_ID")]
        for_node: Option<String>,
    },
    /// What changed between two revisions.
    Diff {
        #[arg(default_value = "codex")]
        id: String,
        #[arg(long, value_name = "N")]
        from: u64,
        #[arg(long, value_name = "N")]
        to: u64,
    },
    /// Every revision of a contract.
    History {
        #[arg(default_value = "codex")]
        id: String,
        #[command(flatten)]
        page: client::ListArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProposalCommand {
    /// Proposals, newest first.
    List {
        /// Only proposals with this status (draft, voting, adopted, rejected, withdrawn).
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        /// Only proposals on this contract.
        #[arg(long, value_name = "ID")]
        contract: Option<String>,
        /// Only proposals on this clause.
        #[arg(long, value_name = "CLAUSE")]
        clause: Option<String>,
        /// Only proposals by this node.
        #[arg(long, value_name = "NODE_ID")]
        author: Option<String>,
        /// Only proposals created at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only proposals created before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        #[command(flatten)]
        page: client::ListArgs,
    },
    /// One proposal with its votes and tally.
    Show { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TopologyCommand {
    /// Every connection (declared ones, then those gossip observes), paged.
    Connections {
        /// Only declared (true) or only observed (false) connections.
        #[arg(long, value_name = "BOOL")]
        declared: Option<bool>,
        /// Only connections from or to this node.
        #[arg(long = "of", value_name = "NODE_ID")]
        of: Option<String>,
        #[command(flatten)]
        page: client::ListArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// The registry, by node id.
    List {
        /// Only nodes of this type.
        #[arg(long = "type", value_enum, value_name = "TYPE")]
        node_type: Option<NodeTypeArg>,
        /// Only nodes with this status (active, inactive, pending, suspended).
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        #[command(flatten)]
        page: client::ListArgs,
    },
    Show {
        id: String,
    },
    /// Register a node in the mesh.
    Register {
        #[command(flatten)]
        auth: AuthArgs,
        #[arg(long = "type", value_enum)]
        node_type: NodeTypeArg,
        /// Base64 of the node's 32-byte Ed25519 public key.
        #[arg(long, value_name = "BASE64")]
        public_key: String,
        /// The node's id (default: derived from the public key).
        #[arg(long, value_name = "ID")]
        node_id: Option<String>,
        #[arg(long, value_name = "ADDR")]
        network_address: Option<String>,
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
    },
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    List {
        #[command(flatten)]
        page: client::ListArgs,
    },
    Show {
        id: String,
    },
    /// Define a trust domain with its voting policy.
    Define {
        #[command(flatten)]
        auth: AuthArgs,
        /// The domain id (default: a new UUID).
        #[arg(long, value_name = "ID")]
        id: Option<String>,
        /// Human name of the domain.
        #[arg(long, value_name = "NAME")]
        name: String,
        #[arg(long, default_value = "", value_name = "TEXT")]
        description: String,
        /// The administering node (default: the signer).
        #[arg(long, value_name = "ID")]
        admin: Option<String>,
        /// A member node id (repeat).
        #[arg(long = "member", value_name = "ID")]
        members: Vec<String>,
        /// A clause shared by the domain (repeat): the domain decides proposals on it.
        #[arg(long = "shared-clause", value_name = "CLAUSE")]
        shared_clauses: Vec<String>,
        /// The contract whose clauses --shared-clause names (default: the Codex).
        #[arg(long, value_name = "ID")]
        contract: Option<String>,
        /// Share of eligible weight that must vote.
        #[arg(long, value_name = "SHARE")]
        quorum: Option<f64>,
        /// Approve share of approve+reject weight to exceed.
        #[arg(long, value_name = "SHARE")]
        threshold: Option<f64>,
        /// Veto share of cast weight that rejects.
        #[arg(long, value_name = "SHARE")]
        veto: Option<f64>,
        /// Voting period in seconds.
        #[arg(long, value_name = "SECS")]
        voting_period: Option<u64>,
        /// A member's vote weight, NODE_ID=N (repeat).
        #[arg(long = "weight", value_name = "NODE_ID=N")]
        weights: Vec<String>,
        /// The weight of members --weight does not name.
        #[arg(long, value_name = "N")]
        default_weight: Option<u64>,
        /// The least trust score (0 to 1, `govmesh trust`) a member needs to vote.
        #[arg(long, value_name = "SHARE")]
        min_trust_score: Option<f64>,
        /// Weigh each member's vote by its trust score.
        #[arg(long)]
        weight_by_trust: bool,
        /// A clause's own policy, CLAUSE=JSON, e.g. 2='{"threshold":0.75}' (repeat).
        #[arg(long = "clause-policy", value_name = "CLAUSE=JSON")]
        clause_policies: Vec<String>,
        /// A voting rule of the domain's policy, RULE=JSON (repeat), e.g.
        /// allow_vote_change=true, expedited_voting_period_secs=3600, super_quorum=0.8,
        /// late_quorum_extension_secs=600, delegation=true, timelock_secs=86400,
        /// max_open_proposals=3.
        #[arg(long = "voting-rule", value_name = "RULE=JSON")]
        voting_rules: Vec<String>,
        /// Lets a node keep a local version of a clause, NODE_ID=CLAUSE (repeat).
        #[arg(long = "local-override", value_name = "NODE_ID=CLAUSE")]
        local_overrides: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SyncCommand {
    /// One record per contract revision: source, targets, who acknowledged, status.
    Status {
        /// Only records of this contract.
        #[arg(long, value_name = "ID")]
        contract: Option<String>,
        /// Only records with this status (created, in_progress, completed, partial, failed).
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        #[command(flatten)]
        page: client::ListArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Write the log and its signed checkpoint to a file `govmesh verify FILE` reads.
    Export {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// jsonl (JSON lines: verify streams it) or json (one document, the first
        /// format); default jsonl for a .jsonl file, else json.
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: Option<verify::ExportFormat>,
    },
    /// Log records, oldest first: index, time, type, author.
    Entries {
        /// First index.
        #[arg(long, default_value_t = 0, value_name = "N")]
        start: u64,
        /// Only records of this operation type (vote, propose, ...).
        #[arg(long, value_name = "TYPE")]
        kind: Option<String>,
        /// Only records by this node.
        #[arg(long, value_name = "NODE_ID")]
        author: Option<String>,
        /// Only records stamped at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only records stamped before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        #[command(flatten)]
        page: client::ListArgs,
    },
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
    let code = match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", fail::one_line(&err));
            fail::exit_code(&err)
        }
    };
    std::process::exit(code);
}

/// Help and version go out as clap renders them; usage errors as one line, exit 2.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let reason: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    let reason = reason.join(" ");
    let reason = reason.strip_prefix("error: ").unwrap_or(&reason);
    eprintln!("error: {reason} (see govmesh --help)");
    std::process::exit(2);
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let json = cli.json;
    match cli.command {
        Command::Init {
            data,
            mesh_name,
            key,
            founders,
            witnesses,
            forks,
            network_address,
            genesis,
        } => local::init(
            local::InitArgs {
                data: &data,
                mesh_name,
                key: key.as_deref(),
                hubs: &founders,
                witnesses: &witnesses,
                forks: &forks,
                network_address,
                genesis: genesis.as_deref(),
            },
            json,
        ),
        Command::Serve {
            data,
            listen,
            stop_with_parent,
            peers,
            behind_proxy,
            tls_cert,
            tls_key,
            re_register,
            log_format,
        } => local::serve(
            &data,
            local::ServeArgs {
                listen: listen.as_deref(),
                stop_with_parent,
                peers,
                behind_proxy,
                re_register,
                tls: tls_cert
                    .zip(tls_key)
                    .map(|(cert, key)| govmesh_node::TlsFiles { cert, key }),
            },
            log_format,
        ),
        Command::Bench { cmd } => bench::dispatch(cmd, json),
        Command::Demo {
            data,
            listen,
            hubs,
            witnesses,
            forks,
            log_format,
        } => demo::run(
            data,
            listen,
            demo::MeshSize {
                hubs,
                witnesses,
                forks,
            },
            log_format,
        ),
        Command::Key {
            cmd: KeyCommand::New { out },
        } => local::key_new(&out, json),
        Command::Key {
            cmd: KeyCommand::Rotate { data, node },
        } => local::key_rotate(&data, node.as_deref(), json),
        Command::Propose {
            node,
            auth,
            contract,
            clause,
            text,
            rationale,
            rules_patch,
            domain,
            voting_period,
            scope,
            local_node,
            resolves,
            resolution,
            expedited,
        } => commands::propose(
            &node,
            &auth,
            commands::ProposeArgs {
                contract,
                clause,
                text,
                rationale,
                rules_patch,
                domain,
                voting_period,
                scope: scope.map(|s| match s {
                    Scope::Federated => GovernanceScope::Federated,
                    Scope::Isolated => GovernanceScope::Isolated,
                    Scope::Local => GovernanceScope::Local,
                }),
                local_node,
                resolves: resolves.zip(resolution.map(|r| match r {
                    Resolution::PolicyA => ResolutionType::PolicyA,
                    Resolution::PolicyB => ResolutionType::PolicyB,
                    Resolution::Compromise => ResolutionType::Compromise,
                })),
                expedited,
            },
            json,
        ),
        Command::Vote {
            node,
            auth,
            proposal_id,
            choice,
            reason,
            sequence,
        } => commands::vote(
            &node,
            &auth,
            commands::VoteArgs {
                proposal_id,
                choice,
                reason,
                sequence,
            },
            json,
        ),
        Command::Delegate {
            node,
            auth,
            domain,
            delegate,
        } => commands::delegate(&node, &auth, &domain, Some(&delegate), json),
        Command::Undelegate { node, auth, domain } => {
            commands::delegate(&node, &auth, &domain, None, json)
        }
        Command::Cancel {
            node,
            auth,
            proposal_id,
            reason,
        } => commands::cancel(&node, &auth, &proposal_id, reason, json),
        Command::Restore {
            node,
            auth,
            node_id,
            rationale,
            voting_period,
        } => commands::restore(&node, &auth, &node_id, rationale, voting_period, json),
        Command::Withdraw {
            node,
            auth,
            proposal_id,
            reason,
        } => commands::withdraw(&node, &auth, &proposal_id, reason, json),
        Command::Contract { node, cmd } => commands::contract(&node, cmd, json),
        Command::Proposal { node, cmd } => commands::proposal(&node, cmd, json),
        Command::Node { node, cmd } => commands::node(&node, cmd, json),
        Command::Domain { node, cmd } => commands::domain(&node, cmd, json),
        Command::Status { node } => commands::status(&node, json),
        Command::Trust { node, subject } => commands::trust(&node, subject.as_deref(), json),
        Command::Topology { node, cmd: None } => commands::topology(&node, json),
        Command::Topology {
            node,
            cmd: Some(TopologyCommand::Connections { declared, of, page }),
        } => commands::topology_connections(&node, declared, of, &page, json),
        Command::Connect {
            node,
            auth,
            source,
            target,
            connection_type,
        } => commands::connect(
            &node,
            &auth,
            govmesh_core::entry::Operation::Connect(govmesh_core::entry::ConnectOp {
                source_node_id: source,
                target_node_id: target,
                connection_type: match connection_type {
                    LinkType::Direct => govmesh_core::model::ConnectionType::Direct,
                    LinkType::Relay => govmesh_core::model::ConnectionType::Relay,
                    LinkType::Backup => govmesh_core::model::ConnectionType::Backup,
                },
            }),
            json,
        ),
        Command::Disconnect {
            node,
            auth,
            source,
            target,
        } => commands::connect(
            &node,
            &auth,
            govmesh_core::entry::Operation::Disconnect(govmesh_core::entry::DisconnectOp {
                source_node_id: source,
                target_node_id: target,
            }),
            json,
        ),
        Command::Sync {
            node,
            cmd:
                SyncCommand::Status {
                    contract,
                    status,
                    page,
                },
        } => commands::sync_status(&node, contract, status, &page, json),
        Command::Log {
            node,
            cmd: LogCommand::Export { out, format },
        } => {
            let format = verify::ExportFormat::for_path(format, &out);
            verify::export(&node.node, &out, format, json)
        }
        Command::Log {
            node,
            cmd:
                LogCommand::Entries {
                    start,
                    kind,
                    author,
                    since,
                    until,
                    page,
                },
        } => commands::log_entries(
            &node,
            commands::EntryFilter {
                start,
                kind,
                author,
                since,
                until,
            },
            &page,
            json,
        ),
        Command::Verify {
            file,
            node,
            genesis,
        } => verify::run(file.as_deref(), node, genesis.as_deref(), json),
        Command::Hygiene { cmd } => hygiene_cmd::run(cmd),
    }
}
