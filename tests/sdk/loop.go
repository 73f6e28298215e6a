// The Go SDK v2 with its default credential chain, as a long job uses it: one STS client calling
// GetCallerIdentity every INTERVAL seconds for SECONDS seconds, and on until the answers have named
// SESSIONS role sessions (never beyond LIMIT seconds). Prints one line per call ("ok" and the
// caller's Arn, or "FAIL" and the error as the program sees it), then "done".
//
// Debian's SDK (1.17) ignores AWS_ENDPOINT_URL: the endpoint is set here from that variable.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	seconds, _ := strconv.ParseFloat(os.Args[1], 64)
	interval, _ := strconv.ParseFloat(os.Args[2], 64)
	sessions, _ := strconv.Atoi(os.Args[3])
	limit, _ := strconv.ParseFloat(os.Args[4], 64)
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	resolver := aws.EndpointResolverWithOptionsFunc(
		func(service, region string, options ...interface{}) (aws.Endpoint, error) {
			return aws.Endpoint{URL: endpoint, SigningRegion: region}, nil
		})
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithEndpointResolverWithOptions(resolver))
	if err != nil {
		fmt.Printf("FAIL config: %v\n", err)
		os.Exit(1)
	}
	client := sts.NewFromConfig(cfg)
	start := time.Now()
	arns := map[string]bool{}
	for {
		until := limit
		if len(arns) >= sessions && seconds < limit {
			until = seconds
		}
		if time.Since(start).Seconds() >= until {
			break
		}
		answer, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			fmt.Printf("FAIL %.1fs %s\n", time.Since(start).Seconds(),
				strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			arns[aws.ToString(answer.Arn)] = true
			fmt.Printf("ok %s\n", aws.ToString(answer.Arn))
		}
		time.Sleep(time.Duration(interval * float64(time.Second)))
	}
	fmt.Printf("done seconds=%.1f\n", time.Since(start).Seconds())
}
