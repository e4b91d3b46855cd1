//! The client's address, for the per-address login limit and the audit trail.
//!
//! It is the peer of the connection, unless the peer is one of the reverse proxies named in
//! `TRUSTED_PROXIES`: then it is the rightmost `X-Forwarded-For` hop that is not a trusted
//! proxy. Each proxy appends the address it received the request from, so the hops to the
//! right of the client's own were written by trusted proxies, and everything to the left of it
//! was written by the client, which can put anything there. A peer that is not a trusted proxy
//! has its header ignored.

use std::net::{IpAddr, SocketAddr};

/// An address, or a network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address = address.parse::<IpAddr>().ok()?.to_canonical();
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= bits)?
            }
            Some(_) => return None,
        };
        Some(Network { address, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// `TRUSTED_PROXIES`: the reverse proxies whose `X-Forwarded-For` hops are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    /// Comma-separated addresses or CIDR networks (`10.0.0.2, 10.1.0.0/16, fd00::/8`); empty
    /// for none.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                Network::parse(item).ok_or_else(|| {
                    format!("{item:?} is not an IP address or a network such as 10.0.0.0/8")
                })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client's address: `peer` itself, or when it is a trusted proxy, the rightmost hop
    /// of `forwarded_for` (the `X-Forwarded-For` values in the order received) that is not.
    pub fn client_address<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.contains(peer) {
            return Some(peer);
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            // A hop a trusted proxy did not write readably: the nearest address known is the
            // proxy that passed it on.
            let Some(ip) = parse_hop(hop) else {
                return Some(nearest);
            };
            if !self.contains(ip) {
                return Some(ip);
            }
            nearest = ip;
        }
        // Every hop is a trusted proxy: the request started at the farthest of them.
        Some(nearest)
    }
}

/// One `X-Forwarded-For` hop: an address, or an address with a port (`1.2.3.4:5`,
/// `[2001:db8::1]:5`), as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn client(trusted: &str, peer: &str, forwarded_for: &[&str]) -> String {
        TrustedProxies::parse(trusted)
            .unwrap()
            .client_address(Some(ip(peer)), forwarded_for.iter().copied())
            .unwrap()
            .to_string()
    }

    #[test]
    fn addresses_and_networks_parse() {
        let t = TrustedProxies::parse(" 10.0.0.2 , 10.1.0.0/16,fd00::/8,::ffff:192.0.2.1").unwrap();
        assert!(t.contains(ip("10.0.0.2")));
        assert!(!t.contains(ip("10.0.0.3")));
        assert!(t.contains(ip("10.1.255.7")));
        assert!(!t.contains(ip("10.2.0.1")));
        assert!(t.contains(ip("fd12::1")));
        assert!(t.contains(ip("192.0.2.1")), "IPv4-mapped is IPv4");
        assert!(t.contains(ip("::ffff:10.0.0.2")));
        assert!(TrustedProxies::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("8.8.8.8")));
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
        for bad in [
            "10.0.0",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "fd00::/129",
            "proxy",
        ] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_rightmost_untrusted_hop_behind_a_trusted_peer() {
        let trusted = "10.0.0.0/24";
        // The client wrote the first hop; the proxy appended the address it saw.
        assert_eq!(
            client(trusted, "10.0.0.1", &["6.6.6.6, 203.0.113.7"]),
            "203.0.113.7"
        );
        // Two proxies; the header in two fields.
        assert_eq!(
            client(trusted, "10.0.0.1", &["6.6.6.6", "203.0.113.7, 10.0.0.2"]),
            "203.0.113.7"
        );
        // A peer that is no trusted proxy: its header is its own invention.
        assert_eq!(
            client(trusted, "198.51.100.9", &["6.6.6.6"]),
            "198.51.100.9"
        );
        // No proxies configured: never the header.
        assert_eq!(client("", "10.0.0.1", &["6.6.6.6"]), "10.0.0.1");
        // A trusted peer without the header, or with only trusted hops.
        assert_eq!(client(trusted, "10.0.0.1", &[]), "10.0.0.1");
        assert_eq!(
            client(trusted, "10.0.0.1", &["10.0.0.9, 10.0.0.2"]),
            "10.0.0.9"
        );
        // A hop that is no address stops the walk at the proxy that passed it on.
        assert_eq!(client(trusted, "10.0.0.1", &["junk, 10.0.0.2"]), "10.0.0.2");
        assert_eq!(
            client(trusted, "10.0.0.1", &["[2001:db8::5]:443"]),
            "2001:db8::5"
        );
    }
}
