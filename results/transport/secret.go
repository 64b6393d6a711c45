package transport

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// ReadSecret reads a secret from file, trimmed, refusing a file its group
// or others may read. Errors are *ConfigError naming key (and never the
// secret).
func ReadSecret(key, file string) (string, error) {
	if err := CheckSecretMode(key, file); err != nil {
		return "", err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", &ConfigError{Key: key, Msg: err.Error()}
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", &ConfigError{Key: key, Msg: fmt.Sprintf("%s is empty", file)}
	}
	return s, nil
}

// CheckSecretMode refuses a secret file that its group or others may read:
// a password or key anyone on the host can read is no secret.
func CheckSecretMode(key, file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return &ConfigError{Key: key, Msg: err.Error()}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return &ConfigError{Key: key, Msg: fmt.Sprintf("%s is readable by group or others (mode %04o); a secret file must be its owner's alone: chmod 600 %s", file, perm, file)}
	}
	return nil
}

// CAPool reads a PEM CA file into a certificate pool; errors name key.
func CAPool(key, file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, &ConfigError{Key: key, Msg: err.Error()}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, &ConfigError{Key: key, Msg: fmt.Sprintf("%s holds no PEM certificate", file)}
	}
	return pool, nil
}
