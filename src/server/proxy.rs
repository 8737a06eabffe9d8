//! Who a request comes from when Flack runs behind reverse proxies.
//!
//! The per-address limits (open WebSockets, name claims) key on the
//! client's IP address. Behind a proxy every request arrives from the
//! proxy, so without this every user would share one address's limits.
//! The proxies named by the `trusted_proxies` setting are believed about
//! the client (their `X-Forwarded-For`); nobody else is, so a client
//! cannot pick its own address by sending the header.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The addresses, single or blocks (`10.0.0.0/8`, `fd00::/8`), of the
/// reverse proxies whose `X-Forwarded-For` is believed. Empty by default:
/// the peer's address is the client's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct TrustedProxies(Vec<Block>);

/// An address block: the address and how many leading bits must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    addr: IpAddr,
    bits: u8,
}

impl Block {
    fn contains(self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(block), IpAddr::V4(ip)) => {
                prefix_matches(u32::from(block).into(), u32::from(ip).into(), self.bits, 32)
            }
            (IpAddr::V6(block), IpAddr::V6(ip)) => {
                prefix_matches(u128::from(block), u128::from(ip), self.bits, 128)
            }
            _ => false,
        }
    }
}

/// Whether the top `bits` of two `width`-bit numbers agree.
fn prefix_matches(a: u128, b: u128, bits: u8, width: u32) -> bool {
    let bits = u32::from(bits);
    bits == 0 || (a ^ b) >> (width - bits) == 0
}

impl FromStr for Block {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let refuse =
            || format!("\u{201c}{text}\u{201d} is not an IP address or block (like 10.0.0.0/8)");
        let (addr, bits) = match text.split_once('/') {
            Some((addr, bits)) => (addr, Some(bits)),
            None => (text, None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| refuse())?.to_canonical();
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => width,
            Some(bits) => bits
                .parse::<u8>()
                .ok()
                .filter(|&b| b <= width)
                .ok_or_else(refuse)?,
        };
        Ok(Block { addr, bits })
    }
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.bits)
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list; empty means none.
    fn from_str(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Block::from_str)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl TryFrom<String> for TrustedProxies {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, block) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{block}")?;
        }
        Ok(())
    }
}

impl TrustedProxies {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(ip))
    }

    /// The client's address: `peer` itself unless it is a trusted proxy;
    /// then, reading the `X-Forwarded-For` lists (`forwarded`, in header
    /// order) from the right, the first address that is not a trusted
    /// proxy. An entry that is not an address stops the walk at the proxy
    /// that wrote it; if every entry is a trusted proxy, the leftmost one.
    pub(crate) fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded: impl Iterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut entries: Vec<&[u8]> = Vec::new();
        for header in forwarded {
            entries.extend(header.split(|&b| b == b','));
        }
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_entry(entry) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:5678`).
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?.trim();
    let bracketed = || text.strip_prefix('[')?.strip_suffix(']');
    let ip = IpAddr::from_str(text)
        .ok()
        .or_else(|| std::net::SocketAddr::from_str(text).ok().map(|s| s.ip()))
        .or_else(|| IpAddr::from_str(bracketed()?).ok())?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn client(proxies: &str, peer: &str, headers: &[&str]) -> IpAddr {
        let proxies: TrustedProxies = proxies.parse().unwrap();
        proxies.client(ip(peer), headers.iter().map(|h| h.as_bytes()))
    }

    #[test]
    fn lists_of_addresses_and_blocks_are_read_and_bad_ones_refused() {
        let proxies: TrustedProxies = " 127.0.0.1, 10.0.0.0/8 ,fd00::/8,".parse().unwrap();
        assert_eq!(proxies.to_string(), "127.0.0.1/32, 10.0.0.0/8, fd00::/8");
        assert!(TrustedProxies::from_str("").unwrap().is_empty());
        for bad in [
            "localhost",
            "10.0.0.0/33",
            "::1/129",
            "10.0.0.0/",
            "10.0.0.0/x",
        ] {
            let err = TrustedProxies::from_str(bad).unwrap_err();
            assert!(
                err.contains("is not an IP address or block"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn blocks_match_their_addresses_only() {
        let proxies: TrustedProxies = "10.1.0.0/16, 192.168.1.7, fd00::/8, 0.0.0.0/0"
            .parse()
            .unwrap();
        let block = |i: usize| proxies.0[i];
        assert!(block(0).contains(ip("10.1.255.3")));
        assert!(!block(0).contains(ip("10.2.0.1")));
        assert!(block(1).contains(ip("192.168.1.7")));
        assert!(!block(1).contains(ip("192.168.1.8")));
        // An IPv4 address written as IPv6 (a dual-stack listener's peer).
        assert!(block(1).contains(ip("::ffff:192.168.1.7")));
        assert!(block(2).contains(ip("fd12:3456::1")));
        assert!(!block(2).contains(ip("fe80::1")));
        assert!(!block(2).contains(ip("10.1.0.1")));
        assert!(block(3).contains(ip("8.8.8.8")));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        assert_eq!(client("", "203.0.113.9", &["1.1.1.1"]), ip("203.0.113.9"));
        assert_eq!(
            client("10.0.0.1", "203.0.113.9", &["1.1.1.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        assert_eq!(
            client("127.0.0.1", "127.0.0.1", &["198.51.100.4"]),
            ip("198.51.100.4")
        );
        // Without the header, the proxy itself.
        assert_eq!(client("127.0.0.1", "127.0.0.1", &[]), ip("127.0.0.1"));
        // Ports and brackets are allowed.
        assert_eq!(
            client("127.0.0.1", "127.0.0.1", &["198.51.100.4:5555"]),
            ip("198.51.100.4")
        );
        assert_eq!(
            client("127.0.0.1", "127.0.0.1", &["[2001:db8::1]:80"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            client("127.0.0.1", "127.0.0.1", &["[2001:db8::1]"]),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn a_chain_is_read_from_the_right_and_what_the_client_wrote_is_ignored() {
        // The client sent "6.6.6.6" itself; the proxy appended its address.
        assert_eq!(
            client("127.0.0.1", "127.0.0.1", &["6.6.6.6, 198.51.100.4"]),
            ip("198.51.100.4")
        );
        // Two proxies (a CDN in 10.0.0.0/8 before the local one).
        assert_eq!(
            client(
                "127.0.0.1, 10.0.0.0/8",
                "127.0.0.1",
                &["6.6.6.6, 198.51.100.4", "10.2.3.4"]
            ),
            ip("198.51.100.4")
        );
        // Only proxies: the leftmost.
        assert_eq!(
            client("10.0.0.0/8", "10.0.0.1", &["10.0.0.9, 10.0.0.8"]),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn garbage_stops_at_the_proxy_that_wrote_it() {
        assert_eq!(
            client("127.0.0.1", "127.0.0.1", &["not an address"]),
            ip("127.0.0.1")
        );
        assert_eq!(
            client("127.0.0.1, 10.0.0.0/8", "127.0.0.1", &["unknown, 10.0.0.5"]),
            ip("10.0.0.5")
        );
        assert_eq!(
            client("127.0.0.1", "127.0.0.1", &["1.2.3.4, "]),
            ip("127.0.0.1")
        );
        assert_eq!(client("127.0.0.1", "127.0.0.1", &[""]), ip("127.0.0.1"));
    }
}
