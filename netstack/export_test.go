package netstack

import "net"

// ConnBuffers returns the send and receive buffer sizes of a connection accepted by the
// stack's listener.
func ConnBuffers(c net.Conn) (snd, rcv int64) {
	o := c.(*conn).ep.SocketOptions()
	return o.GetSendBufferSize(), o.GetReceiveBufferSize()
}
