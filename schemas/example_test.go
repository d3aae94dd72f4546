package schemas_test

import (
	"errors"
	"fmt"

	"github.com/debian/mailgw/schemas"
)

func ExampleEntryPoint() {
	fmt.Println(schemas.EntryPoint("org.debian.prod.dak.package.upload"))
	fmt.Println(schemas.EntryPoint("org.debian.prod.tracker.package.upload-source"))
	fmt.Println(schemas.EntryPoint("org.fedoraproject.prod.bodhi.update.comment") == "")
	// Output:
	// mailgw.dak.package.upload.v2
	// mailgw.tracker.package.upload-source.v2
	// true
}

func ExampleValidate() {
	body := []byte(`{"topic":"org.debian.prod.debbugs.bug.report","msg":{"bug":"12"},"timestamp":1,"msg_id":"2026-9d1c2b1e-5a8e-5e34-9f51-0c2d3b4a5e6f","username":"mailgw"}`)
	err := schemas.Validate(body)
	fmt.Println(err != nil && !errors.Is(err, schemas.ErrNoSchema))
	// Output: true
}
