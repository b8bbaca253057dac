//! The address a request comes from, for login throttling. `X-Forwarded-For` is believed only
//! when the peer is a configured trusted proxy (`throttle.trusted_proxies`): anyone else could
//! write any address into it and so escape the throttle. Behind a chain of proxies the client is
//! the nearest address, walking from the right, that is not itself a trusted proxy.

use std::net::IpAddr;

/// Address ranges whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses addresses (`10.0.0.5`, `::1`) and ranges (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                parse_range(entry.trim())
                    .ok_or_else(|| format!("`{entry}` is not an IP address or range"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0
            .iter()
            .any(|(network, prefix)| in_range(address, *network, *prefix))
    }

    /// The client behind `peer`: `peer` itself unless it is trusted and `forwarded` (the
    /// `X-Forwarded-For` values, in order) names an address further out.
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl IntoIterator<Item = &'a str>) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        let hops: Vec<&str> = forwarded
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.into_iter().rev() {
            let Some(address) = parse_hop(hop) else {
                // Whatever the trusted hop received cannot be read: it is the client we know.
                return client;
            };
            client = address;
            if !self.contains(address) {
                break;
            }
        }
        client
    }
}

fn parse_range(entry: &str) -> Option<(IpAddr, u8)> {
    let (address, prefix) = match entry.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
        None => (entry, None),
    };
    let address: IpAddr = address.parse().ok()?;
    let address = address.to_canonical();
    let bits = if address.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(bits);
    (prefix <= bits).then_some((address, prefix))
}

/// An `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Ok(socket) = hop.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    None
}

fn in_range(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            masked(u128::from(u32::from(a)), 32, prefix)
                == masked(u128::from(u32::from(n)), 32, prefix)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            masked(u128::from(a), 128, prefix) == masked(u128::from(n), 128, prefix)
        }
        _ => false,
    }
}

fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    let keep = u32::from(prefix.min(width));
    if keep == 0 {
        return 0;
    }
    bits >> (u32::from(width) - keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted = proxies(&["10.0.0.0/8", "::1"]);
        let spoofed = ["203.0.113.7"];
        assert_eq!(
            trusted.client(ip("198.51.100.1"), spoofed),
            ip("198.51.100.1")
        );
        assert_eq!(trusted.client(ip("10.1.2.3"), spoofed), ip("203.0.113.7"));
        assert_eq!(
            trusted.client(ip("::1"), ["[2001:db8::5]:443"]),
            ip("2001:db8::5")
        );
        // A chain: the client wrote a fake first entry; the nearest untrusted one counts.
        let chain = ["6.6.6.6, 198.51.100.9", "10.0.0.7"];
        assert_eq!(trusted.client(ip("10.0.0.1"), chain), ip("198.51.100.9"));
        assert_eq!(trusted.client(ip("10.0.0.1"), ["garbage"]), ip("10.0.0.1"));
        assert_eq!(trusted.client(ip("10.0.0.1"), []), ip("10.0.0.1"));
        assert_eq!(proxies(&[]).client(ip("10.0.0.1"), spoofed), ip("10.0.0.1"));
    }

    #[test]
    fn ranges_parse_and_match() {
        let trusted = proxies(&["192.168.0.0/16", "fd00::/8", "127.0.0.1"]);
        assert!(trusted.contains(ip("192.168.44.1")));
        assert!(!trusted.contains(ip("192.169.0.1")));
        assert!(trusted.contains(ip("fd12::1")));
        assert!(trusted.contains(ip("::ffff:127.0.0.1")), "mapped v4");
        assert!(!trusted.contains(ip("127.0.0.2")));
        assert!(proxies(&["0.0.0.0/0"]).contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x"] {
            assert!(TrustedProxies::parse(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
