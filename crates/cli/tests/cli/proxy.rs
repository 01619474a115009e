//! A fault-injecting TCP proxy for HTTP between nodes. Each hub's registry address is
//! a proxy in front of it; cutting a node off drops every request to it and every
//! request it signs (its `Govmesh-Node` header) to anyone, so neither its Raft
//! messages nor the others' reach across. Connections open at the cut are closed, and
//! requests are read one by one (by Content-Length) so a kept-alive connection cannot
//! carry traffic across the cut.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The faults shared by every proxy of a test.
#[derive(Default)]
pub struct Faults {
    cut: Mutex<Option<String>>,
    conns: Mutex<Vec<TcpStream>>,
}

impl Faults {
    pub fn new() -> Arc<Faults> {
        Arc::new(Faults::default())
    }

    /// Cuts `node_id` off from the other nodes.
    pub fn cut_off(&self, node_id: &str) {
        *self.cut.lock().unwrap() = Some(node_id.to_owned());
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    pub fn heal(&self) {
        *self.cut.lock().unwrap() = None;
    }

    fn blocked(&self, target: &str, source: Option<&str>) -> bool {
        match &*self.cut.lock().unwrap() {
            Some(c) => c == target || source == Some(c.as_str()),
            None => false,
        }
    }

    fn track(&self, s: &TcpStream) {
        if let Ok(c) = s.try_clone() {
            self.conns.lock().unwrap().push(c);
        }
    }
}

/// A proxy listening on a loopback port picked at run time, in front of `target`.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, the address to put in the registry.
    pub url: String,
    target_id: Arc<Mutex<String>>,
}

impl Proxy {
    pub fn start(target: &str, faults: Arc<Faults>) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let target_id = Arc::new(Mutex::new(String::new()));
        let (target, tid) = (target.to_owned(), target_id.clone());
        // The accept thread lives as long as the test process.
        std::thread::spawn(move || {
            for client in l.incoming().flatten() {
                let (target, tid, faults) = (target.clone(), tid.clone(), faults.clone());
                std::thread::spawn(move || relay(client, &target, &tid, &faults));
            }
        });
        Proxy { url, target_id }
    }

    /// Names the node behind the proxy (known once the mesh is founded).
    pub fn set_target_id(&self, id: &str) {
        *self.target_id.lock().unwrap() = id.to_owned();
    }
}

fn relay(client: TcpStream, target: &str, target_id: &Mutex<String>, faults: &Faults) {
    let Ok(server) = TcpStream::connect(target) else {
        return;
    };
    faults.track(&client);
    faults.track(&server);
    let (Ok(mut from_server), Ok(mut to_client)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Both);
    });
    let close = || {
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    };
    let Ok(c) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(c);
    let mut to_server = &server;
    loop {
        let mut head = Vec::new();
        let mut length = 0usize;
        let mut source = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return close(),
                Ok(_) => {}
            }
            head.extend_from_slice(line.as_bytes());
            let t = line.trim_end();
            if t.is_empty() {
                break;
            }
            if let Some((k, v)) = t.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                if k == "content-length" {
                    length = v.trim().parse().unwrap_or(0);
                } else if k == "govmesh-node" {
                    source = Some(v.trim().to_owned());
                }
            }
        }
        let target_id = target_id.lock().unwrap().clone();
        if faults.blocked(&target_id, source.as_deref()) {
            return close();
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err()
            || to_server.write_all(&head).is_err()
            || to_server.write_all(&body).is_err()
        {
            return close();
        }
    }
}
