//! Why a service did not come up: who holds a port (from `/proc/net/tcp*` and `/proc/*/fd`),
//! the tail of a log, and the likely cause found in it (port taken, out of memory).

use std::path::Path;

/// A process listening on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortHolder {
    /// Its pid, when its sockets are visible to us.
    pub pid: Option<u32>,
    /// Its command line (shortened).
    pub command: String,
}

impl std::fmt::Display for PortHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid} ({})", self.command),
            None => f.write_str(&self.command),
        }
    }
}

/// The socket inodes listening on TCP `port` (IPv4 and IPv6).
fn listening_inodes(port: u16) -> Vec<u64> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        inodes.extend(parse_listeners(&text, port));
    }
    inodes
}

/// The inodes of the sockets in LISTEN state (`0A`) on `port` in a `/proc/net/tcp` table.
fn parse_listeners(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let local_port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            (local_port == port && *fields.get(3)? == "0A")
                .then(|| fields.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
}

/// Who listens on `port`, if anyone does.
pub fn port_holder(port: u16) -> Option<PortHolder> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let procs = std::fs::read_dir("/proc").ok()?;
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| wanted.iter().any(|w| target.as_os_str() == w.as_str()))
        });
        if holds {
            return Some(PortHolder {
                pid: Some(pid),
                command: command_line(pid),
            });
        }
    }
    Some(PortHolder {
        pid: None,
        command: "another user's process".to_string(),
    })
}

/// A process's command line, shortened for a message.
pub fn command_line(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text = raw
        .split(|&b| b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .filter(|part| !part.starts_with("--add-"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut short: String = text.chars().take(160).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// The last `lines` lines of a file (empty when it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What a log says went wrong, when it is one of the usual causes.
pub fn likely_cause(log: &str, ports: &[u16]) -> Option<String> {
    if let Some(line) = log
        .lines()
        .find(|line| line.contains("java.lang.OutOfMemoryError"))
    {
        let kind = if line.contains("Direct buffer memory") {
            "direct memory"
        } else if line.contains("Metaspace") {
            "metaspace"
        } else {
            "heap"
        };
        return Some(format!(
            "out of memory ({kind}): the JVM hit its limit; check free memory (`free -m`) and other JVMs"
        ));
    }
    let bind_failed = ["Address already in use", "BindException", "Failed to bind"]
        .iter()
        .any(|needle| log.contains(needle));
    if bind_failed {
        for &port in ports {
            if let Some(holder) = port_holder(port) {
                return Some(format!("port {port} is taken by {holder}"));
            }
        }
        return Some(format!(
            "a port it needs ({}) was taken when it started",
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_are_read_from_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 20 4 30 10 -1
   2: 00000000:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0 100 0 0 10 0";
        assert_eq!(parse_listeners(table, 8080), [4242]);
        assert_eq!(parse_listeners(table, 9092), [4444]);
        assert!(parse_listeners(table, 1).is_empty());
    }

    #[test]
    fn a_port_we_listen_on_names_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let holder = port_holder(port).expect("the listener is visible");
        assert_eq!(holder.pid, Some(std::process::id()));
        assert!(
            likely_cause("java.net.BindException: Address already in use", &[port])
                .unwrap()
                .contains(&format!(
                    "port {port} is taken by pid {}",
                    std::process::id()
                ))
        );
    }

    #[test]
    fn out_of_memory_is_recognised() {
        let cause = likely_cause(
            "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
            &[],
        )
        .unwrap();
        assert!(cause.contains("out of memory (heap)"), "{cause}");
        assert_eq!(likely_cause("all fine", &[1]), None);
        assert_eq!(
            likely_cause(
                "JVM Options: -XX:+ExitOnOutOfMemoryError -XX:MaxMetaspaceSize=256m",
                &[]
            ),
            None,
            "the flag in a startup banner is not an error"
        );
    }
}
