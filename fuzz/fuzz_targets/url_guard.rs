//! Any text given as a destination URL is checked without panicking, and whatever the
//! guard allows is a public-looking address: the host, when an IP literal, passes an
//! oracle written here from the address registries' special-purpose lists (not from the
//! guard's own code), and only `localhost` names or loopback literals get through when
//! loopback is allowed. The first 16 bytes are also judged as a raw IPv6 address and the
//! first 4 as a raw IPv4 address against the same oracle.
#![no_main]

use leadrelay::egress::{blocked_reason, check_url, EgressPolicy};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `(prefix, length)` of the IPv4 ranges never dialled.
const V4_SPECIAL: &[(u32, u32)] = &[
    (0x0000_0000, 8),  // this network
    (0x0a00_0000, 8),  // private
    (0x6440_0000, 10), // shared (carrier-grade NAT)
    (0x7f00_0000, 8),  // loopback
    (0xa9fe_0000, 16), // link-local
    (0xac10_0000, 12), // private
    (0xc000_0000, 24), // protocol assignments
    (0xc000_0200, 24), // documentation
    (0xc058_6300, 24), // 6to4 relay
    (0xc0a8_0000, 16), // private
    (0xc612_0000, 15), // benchmarking
    (0xc633_6400, 24), // documentation
    (0xcb00_7100, 24), // documentation
    (0xe000_0000, 4),  // multicast
    (0xf000_0000, 4),  // reserved, broadcast
];

/// `(prefix, length)` of the parts of 2000::/3 never dialled.
const V6_SPECIAL: &[(u128, u32)] = &[
    (0x2001_0000 << 96, 32),      // Teredo
    (0x2001_0002 << 96, 48),      // benchmarking
    (0x2001_0010 << 96, 28),      // ORCHID
    (0x2001_0020 << 96, 28),      // ORCHIDv2
    (0x2001_0db8 << 96, 32),      // documentation
    (0x2002_0000 << 96, 16),      // 6to4
    (0x3fff_0000 << 96, 20),      // documentation
];

fn in_v4(ip: Ipv4Addr, (prefix, len): (u32, u32)) -> bool {
    let mask = u32::MAX << (32 - len);
    u32::from(ip) & mask == prefix & mask
}

fn in_v6(ip: Ipv6Addr, (prefix, len): (u128, u32)) -> bool {
    let mask = u128::MAX << (128 - len);
    u128::from(ip) & mask == prefix & mask
}

fn public_v4(ip: Ipv4Addr) -> bool {
    !V4_SPECIAL.iter().any(|r| in_v4(ip, *r))
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    if bits >> 32 == 0xffff {
        // ::ffff:a.b.c.d reaches a.b.c.d.
        return public_v4(Ipv4Addr::from(bits as u32));
    }
    in_v6(ip, (0x2000 << 112, 3)) && !V6_SPECIAL.iter().any(|r| in_v6(ip, *r))
}

fn loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

const POLICIES: [EgressPolicy; 2] = [
    EgressPolicy {
        allow_loopback: false,
        allow_http: false,
    },
    EgressPolicy {
        allow_loopback: true,
        allow_http: true,
    },
];

fuzz_target!(|data: &[u8]| {
    for policy in POLICIES {
        let judge = |ip: IpAddr| {
            let allowed = blocked_reason(ip, policy).is_none();
            let expected = public(ip) || (policy.allow_loopback && loopback(ip));
            assert_eq!(allowed, expected, "{ip} with {policy:?}");
        };
        if let Ok(bytes) = <[u8; 16]>::try_from(data.get(..16).unwrap_or_default()) {
            judge(IpAddr::V6(Ipv6Addr::from(bytes)));
        }
        if let Ok(bytes) = <[u8; 4]>::try_from(data.get(..4).unwrap_or_default()) {
            judge(IpAddr::V4(Ipv4Addr::from(bytes)));
        }

        let Ok(text) = std::str::from_utf8(data) else {
            continue;
        };
        let Ok(url) = check_url(text, policy) else {
            continue;
        };
        assert!(
            url.scheme() == "https" || (policy.allow_http && url.scheme() == "http"),
            "{text}"
        );
        assert!(url.username().is_empty() && url.password().is_none(), "{text}");
        match url.host() {
            None => panic!("{text} passed without a host"),
            Some(url::Host::Ipv4(ip)) => judge(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => judge(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                let name = name.to_ascii_lowercase();
                let local = name == "localhost" || name.ends_with(".localhost");
                assert!(policy.allow_loopback || !local, "{text}");
                // A domain never parses as an address: the parser reads those as IPs.
                assert!(name.parse::<IpAddr>().is_err(), "{text}");
            }
        }
    }
});
