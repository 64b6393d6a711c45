package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"darkwatch/internal/testenv"
)

// testCA makes a certificate authority and a server certificate it signed for
// 127.0.0.1.
func testCA(t *testing.T) (pool *x509.CertPool, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "darkwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "collector"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLS runs the embedded server with TLS required: a node that trusts the
// collector's CA delivers its records over tls://; a node that speaks plain
// NATS, or does not trust the certificate, delivers nothing and keeps its
// records.
func TestTLS(t *testing.T) {
	pool, cert := testCA(t)
	var logs testenv.Buffer
	log := logTo(&logs)
	central := openStore(t, "collector.db")
	srv, stop := collectorWith(t, ServerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Log: log,
		TLS:   &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Nodes: []NodeUser{{Vantage: "vp1", Password: "one"}, {Vantage: "vp2", Password: "two"}, {Vantage: "vp3", Password: "three"}}},
		central)
	defer stop()
	addr := srv.Addr().String()

	queue := func(vantage string) *Node {
		st := openStore(t, vantage+".db")
		if _, err := st.IngestQueued(context.Background(), records(vantage, 1, 500)); err != nil {
			t.Fatal(err)
		}
		cfg := NodeConfig{Vantage: vantage, User: vantage, Store: st, Log: log}
		switch vantage {
		case "vp1":
			cfg.URL, cfg.Password, cfg.TLS = "tls://"+addr, "one", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		case "vp2":
			cfg.URL, cfg.Password = "nats://"+addr, "two"
		case "vp3":
			cfg.URL, cfg.Password, cfg.TLS = "tls://"+addr, "three", &tls.Config{MinVersion: tls.VersionTLS12}
		}
		n := startNode(t, cfg)
		n.Wake()
		return n
	}
	queue("vp1")
	queue("vp2")
	queue("vp3")
	waitFor(t, 20*time.Second, "the TLS node's records not delivered", func() bool { return countVantage(t, central, "vp1") == 500 })
	time.Sleep(2 * time.Second) // the others keep trying meanwhile
	for _, v := range []string{"vp2", "vp3"} {
		if n := countVantage(t, central, v); n != 0 {
			t.Errorf("%s delivered %d records without a verified TLS connection", v, n)
		}
	}
}
