package client

// CutForTest closes the client's TCP connection under it, as a network
// failure would (no close frame). For tests in package client_test.
func CutForTest(c *Client) { c.cut() }
