package testenv

import "net"

// FreePort returns a TCP port of 127.0.0.1 that nothing listened on a
// moment ago: for a server a test starts, or for an address nothing
// answers on. Another process may take it meanwhile, so a server started
// on it should report a failure to listen clearly.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
