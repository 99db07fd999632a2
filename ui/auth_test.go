package ui_test

import (
	"testing"
)

const (
	readToken  = "read-token-0123456789"
	writeToken = "write-token-0123456789"
	adminToken = "admin-token-0123456789"
	tokenFile  = "read " + readToken + "\nwrite " + writeToken + "\nadmin " + adminToken + "\n"
)

// editControls are the selectors of every control that changes data.
const editControls = ".needs-write, .needs-admin, #create-store-form, #create-domain, .drop-store, " +
	"#add-item, #delete-selected, input.select, #select-all, #edit-item, #delete-item, #take-snapshot"

// signIn answers the sign-in dialog with token.
func signIn(p *page, token string) {
	p.t.Helper()
	p.waitVisible("#login-dialog")
	p.typeIn("#login-token", token)
	p.click("#login-submit")
}

// TestUIReadRoleSeesNoEditControls: on a node with tokens the UI asks for
// one; a wrong one is refused in words; a read token sees stores, items
// and values but no control that changes anything; a write token sees
// the item controls but not the admin ones.
func TestUIReadRoleSeesNoEditControls(t *testing.T) {
	n := newNode(t, tokenFile, adminToken)
	n.createStore("users")
	n.put("users", "alice", `{"name":"Alice"}`)
	p := newPage(t)

	p.open(n, "#/d/default/stores")
	p.waitText("#login-reason", "requires a token")
	signIn(p, "not-a-token-of-this-node")
	p.waitText("#login-reason", "refused the token")
	p.setValue("#login-token", "")
	signIn(p, readToken)
	p.waitText("#stores", "users")
	p.waitText("#role", "role: read")
	if c := p.count(editControls); c != 0 {
		t.Errorf("stores screen: %d edit controls for a read token", c)
	}
	if p.count("#sign-out:not([hidden])") != 1 {
		t.Error("no sign-out button after signing in")
	}

	p.click(`#stores tr[data-store="users"] a.store-link`)
	p.waitText("#page-info", "items 1–1")
	openItem(p, "alice")
	p.waitText("#item-value", "Alice")
	for _, screen := range []string{"#/d/default/snapshots", "#/domains"} {
		if c := p.count(editControls); c != 0 {
			t.Errorf("%d edit controls for a read token before %s", c, screen)
		}
		p.do("go to "+screen, evalVoid(`location.hash = `+js(screen)))
		p.until("screen "+screen, `document.querySelector("#snapshots, #domains") !== null`)
	}
	if c := p.count(editControls); c != 0 {
		t.Errorf("domains screen: %d edit controls for a read token", c)
	}

	// The token lives in this tab's sessionStorage: signing out forgets it.
	p.click("#sign-out")
	p.waitVisible("#login-dialog")
	signIn(p, writeToken)
	p.waitText("#role", "role: write")
	p.do("go to the store", evalVoid(`location.hash = "#/d/default/s/users"`))
	p.waitVisible("#add-item")
	openItem(p, "alice")
	p.waitVisible("#edit-item")
	if c := p.count(".needs-admin, .drop-store, #create-store-form"); c != 0 {
		t.Errorf("%d admin controls for a write token", c)
	}
}
