// Package dhcp is a DHCPv4 client and a small DHCPv4 server (RFC 2131, options of RFC 2132)
// that speak in whole Ethernet frames.
//
// The client exists so that a unikernel can learn its IPv4 address before any IP stack is set
// up: it builds Ethernet II + IPv4 + UDP frames itself (from 0.0.0.0:68 to
// 255.255.255.255:67) and hands them to a Send function, and it is given every received frame
// through Input, so it can sit directly on a NIC such as netfront. Client.Acquire runs
// DISCOVER, OFFER, REQUEST, ACK with randomised exponential backoff and starts over on a NAK;
// it returns a Lease to configure the stack with. It does not renew or release the lease, and
// does not probe the address with ARP before use.
//
// The server hands out addresses from one subnet, one per client hardware address, and is
// meant for tests and for a unikernel that serves a handful of peers on a private link (a
// driver domain's bridge, another guest). Server.Handle turns a received frame into the reply
// frame to send. It does not serve relay agents, DHCPINFORM, DHCPRELEASE or DHCPDECLINE, and
// its bindings last as long as the Server.
//
// Whatever arrives from the network is untrusted: every length in the Ethernet, IPv4, UDP and
// DHCP layers is checked before use, IPv4 fragments and frames with a bad IPv4 header
// checksum or a bad (non-zero) UDP checksum are dropped, and a message with a malformed
// option the package uses is dropped as a whole. Nothing parsed from a frame keeps a
// reference to it. The parsers are fuzzed (FuzzParseMessage, FuzzClientInput,
// FuzzServerHandle).
//
// Portable: standard library only; the same code runs on TamaGo and on the host.
package dhcp
