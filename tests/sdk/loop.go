// The Go SDK v2 with its default credential chain, as a long job uses it: one STS client calling
// GetCallerIdentity every INTERVAL seconds for SECONDS seconds. Prints one line per call ("ok"
// and the caller's Arn, or "FAIL" and the error as the program sees it), then "done".
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
	for time.Since(start).Seconds() < seconds {
		answer, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			fmt.Printf("FAIL %.1fs %s\n", time.Since(start).Seconds(),
				strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			fmt.Printf("ok %s\n", aws.ToString(answer.Arn))
		}
		time.Sleep(time.Duration(interval * float64(time.Second)))
	}
	fmt.Printf("done seconds=%.1f\n", time.Since(start).Seconds())
}
